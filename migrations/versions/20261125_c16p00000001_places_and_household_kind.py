"""A person's three places (household elsewhere, residence, job seeking) and household kind

Issue 16: QJ2019 (十六) covers workers whose household, residence or place of job seeking is in
the region, and the allowances go to the rural students among 两后生 only. People registered
before this revision keep their household township; their household kind, residence and place
of job seeking are NULL (not known), which the rules answer provisionally, asking for them.

Revision ID: c16p00000001
Revises: b14a00000004
Create Date: 2026-12-06 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'c16p00000001'
down_revision = 'c16m00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('household_elsewhere', sa.String(length=60),
                                      nullable=True))
        batch_op.add_column(sa.Column('household_kind', sa.Enum(
            'rural', 'urban', name='householdkind', native_enum=False, length=32),
            nullable=True))
        batch_op.add_column(sa.Column('residence_township_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('residence_elsewhere', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('job_township_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('job_elsewhere', sa.Boolean(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_persons_residence_township_id_regions'),
                                    'regions', ['residence_township_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_persons_job_township_id_regions'),
                                    'regions', ['job_township_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_persons_job_township_id_regions'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_persons_residence_township_id_regions'),
                                 type_='foreignkey')
        batch_op.drop_column('job_elsewhere')
        batch_op.drop_column('job_township_id')
        batch_op.drop_column('residence_elsewhere')
        batch_op.drop_column('residence_township_id')
        batch_op.drop_column('household_kind')
        batch_op.drop_column('household_elsewhere')
