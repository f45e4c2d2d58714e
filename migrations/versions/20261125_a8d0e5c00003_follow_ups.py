"""follow-up answers and opinions

Revision ID: a8d0e5c00003
Revises: a8d0e5c00002
Create Date: 2026-11-25 14:00:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'a8d0e5c00003'
down_revision = 'a8d0e5c00002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('voucher_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('round_months', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('asked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('work', sa.Enum('local', 'province', 'outside', 'self_employed', 'not_yet', name='workafter', native_enum=False, length=32), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('opinion', sa.String(length=200), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.Enum('wechat', 'api', 'page', 'cli', 'worker', name='channel', native_enum=False, length=32), nullable=True),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_follow_ups_course_id_courses')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_follow_ups_person_id_persons')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['persons.id'], name=op.f('fk_follow_ups_recorded_by_id_persons')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_follow_ups_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups')),
    sa.UniqueConstraint('voucher_id', 'round_months', name=op.f('uq_follow_ups_voucher_id_round_months'))
    )
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_ups_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_ups_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_ups_voucher_id'), ['voucher_id'], unique=False)


def downgrade() -> None:
    op.drop_table('follow_ups')

