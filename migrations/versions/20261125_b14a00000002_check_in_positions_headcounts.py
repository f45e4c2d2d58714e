"""check-in positions (source, coordinates, accuracy, when) and staff headcounts

Revision ID: b14a00000002
Revises: a9a0e5c00002
Create Date: 2026-11-26 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'b14a00000002'
down_revision = 'a9a0e5c00002'
branch_labels = None
depends_on = None

SOURCES = ('wechat_event', 'wechat_message', 'miniprogram', 'none')


def upgrade() -> None:
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('location_source', sa.Enum(*SOURCES, name='locationsource', native_enum=False, length=32), server_default='none', nullable=False))
        batch_op.add_column(sa.Column('location_lat', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('location_lng', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('location_accuracy_m', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('located_at', models.base.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('location_source', sa.Enum(*SOURCES, name='locationsource', native_enum=False, length=32), nullable=True))
        batch_op.add_column(sa.Column('location_accuracy_m', sa.Double(), nullable=True))

    with op.batch_alter_table('class_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_class_sessions_day'), ['day'], unique=False)

    op.create_table('headcounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('counted', sa.Integer(), nullable=False),
    sa.Column('scans_then', sa.Integer(), nullable=False),
    sa.Column('by_person_id', sa.Integer(), nullable=False),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.Enum('wechat', 'api', 'page', 'cli', 'worker', name='channel', native_enum=False, length=32), nullable=False),
    sa.ForeignKeyConstraint(['by_person_id'], ['persons.id'], name=op.f('fk_headcounts_by_person_id_persons')),
    sa.ForeignKeyConstraint(['session_id'], ['class_sessions.id'], name=op.f('fk_headcounts_session_id_class_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_headcounts'))
    )
    with op.batch_alter_table('headcounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_headcounts_session_id'), ['session_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('headcounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_headcounts_session_id'))
    op.drop_table('headcounts')

    with op.batch_alter_table('class_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_class_sessions_day'))

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_column('location_accuracy_m')
        batch_op.drop_column('location_source')

    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_column('located_at')
        batch_op.drop_column('location_accuracy_m')
        batch_op.drop_column('location_lng')
        batch_op.drop_column('location_lat')
        batch_op.drop_column('location_source')
