"""unionid lookups: followers whose unionid the worker asks WeChat's user-info API for

Revision ID: a9a0e5c00002
Revises: a9a0e5c00001
Create Date: 2026-11-25 15:00:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'a9a0e5c00002'
down_revision = 'a9a0e5c00001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unionid_lookups',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('queued_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_unionid_lookups_person_id_persons')),
    sa.PrimaryKeyConstraint('person_id', name=op.f('pk_unionid_lookups'))
    )
    with op.batch_alter_table('unionid_lookups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unionid_lookups_next_attempt_at'), ['next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('unionid_lookups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unionid_lookups_next_attempt_at'))

    op.drop_table('unionid_lookups')
