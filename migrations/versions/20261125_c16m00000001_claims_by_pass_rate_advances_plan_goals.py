"""claims by pass rate with their advance, and the plans' goals (issue 16, items 8 and 11)

Revision ID: c16m00000001
Revises: b14a00000004
Create Date: 2026-12-06 10:00:00

A claim records its pass rate, the share of the training subsidy it paid and the advance
counted against it (claims made before have no pass rate and no advance); an advance of a
project class is a row of its own, one per class. The plans' goals beyond the target tables
are a table the data loader fills, as the targets are.
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'c16m00000001'
down_revision = 'c17p00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pass_rate', sa.Numeric(precision=5, scale=4), nullable=True))
        batch_op.add_column(sa.Column('pass_share', sa.Numeric(precision=5, scale=4), nullable=True))
        batch_op.add_column(sa.Column('advance_yuan', sa.Numeric(precision=12, scale=2), nullable=False, server_default='0'))

    op.create_table('claim_advances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=True),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('trainees', sa.Integer(), nullable=False),
    sa.Column('expected_yuan', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('share', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('amount_yuan', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_claim_advances_course_id_courses')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_claim_advances_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_advances')),
    sa.UniqueConstraint('course_id', name=op.f('uq_claim_advances_course_id')),
    sa.UniqueConstraint('number', name=op.f('uq_claim_advances_number'))
    )
    with op.batch_alter_table('claim_advances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_advances_institution_id'), ['institution_id'], unique=False)

    op.create_table('plan_goals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('no', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=60), nullable=False),
    sa.Column('scope_en', sa.String(length=60), nullable=False),
    sa.Column('region_code', sa.String(length=40), nullable=True),
    sa.Column('first_year', sa.Integer(), nullable=False),
    sa.Column('last_year', sa.Integer(), nullable=False),
    sa.Column('measure', sa.Enum('trainings', 'qualification_certs', 'special_certs', 'senior_certs', 'employment_rate', 'subsidized_trainings', 'rural_subsidized', 'by_technical_schools', 'apprentices', 'skilled_share', 'high_skilled_share', 'funds', name='goalmeasure', native_enum=False, length=32), nullable=False),
    sa.Column('unit', sa.Enum('person_times', 'persons', 'share', 'yuan', name='goalunit', native_enum=False, length=32), nullable=False),
    sa.Column('figure', sa.Numeric(precision=16, scale=4), nullable=False),
    sa.Column('is_minimum', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_goals')),
    sa.UniqueConstraint('code', name=op.f('uq_plan_goals_code'))
    )


def downgrade() -> None:
    op.drop_table('plan_goals')
    with op.batch_alter_table('claim_advances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_advances_institution_id'))

    op.drop_table('claim_advances')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('advance_yuan')
        batch_op.drop_column('pass_share')
        batch_op.drop_column('pass_rate')
