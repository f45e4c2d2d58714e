"""progress_counts: a province's year of dashboard counts, counted ahead by the worker

Revision ID: c19v00000002
Revises: c19v00000001
Create Date: 2026-12-06 07:10:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'c19v00000002'
down_revision = 'c19v00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('progress_counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('township_id', sa.Integer(), nullable=True),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('registered', sa.Integer(), nullable=False),
    sa.Column('redeemed', sa.Integer(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('certified', sa.Integer(), nullable=False),
    sa.Column('employed', sa.Integer(), nullable=False),
    sa.Column('redeemed_in_month', sa.Integer(), nullable=False),
    sa.Column('qualification', sa.Integer(), nullable=False),
    sa.Column('special', sa.Integer(), nullable=False),
    sa.Column('free', sa.Integer(), nullable=False),
    sa.Column('counted_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_progress_counts'))
    )
    with op.batch_alter_table('progress_counts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_progress_counts_year'), ['year'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('progress_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_progress_counts_year'))
    op.drop_table('progress_counts')
