"""display screens: the browsers that show a class's check-in code, and the display links spent

Revision ID: b14a00000003
Revises: b14a00000002
Create Date: 2026-11-25 16:00:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'b14a00000003'
down_revision = 'b14a00000002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('display_screens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('how', sa.Enum('link', 'confirmed', name='screenhow', native_enum=False, length=32), nullable=False),
    sa.Column('bound_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('bound_by_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bound_by_id'], ['persons.id'], name=op.f('fk_display_screens_bound_by_id_persons')),
    sa.ForeignKeyConstraint(['session_id'], ['class_sessions.id'], name=op.f('fk_display_screens_session_id_class_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_display_screens')),
    sa.UniqueConstraint('digest', name=op.f('uq_display_screens_digest'))
    )
    with op.batch_alter_table('display_screens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_display_screens_session_id'), ['session_id'], unique=False)

    op.create_table('display_links',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('screen_id', sa.Integer(), nullable=False),
    sa.Column('spent_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['screen_id'], ['display_screens.id'], name=op.f('fk_display_links_screen_id_display_screens')),
    sa.ForeignKeyConstraint(['session_id'], ['class_sessions.id'], name=op.f('fk_display_links_session_id_class_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_display_links'))
    )
    with op.batch_alter_table('display_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_display_links_session_id'), ['session_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('display_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_display_links_session_id'))

    op.drop_table('display_links')
    with op.batch_alter_table('display_screens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_display_screens_session_id'))

    op.drop_table('display_screens')
