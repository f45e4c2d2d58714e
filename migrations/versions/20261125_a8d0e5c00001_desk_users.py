"""the bureau desk's users

Revision ID: a8d0e5c00001
Revises: 7eed6e4815ba
Create Date: 2026-11-25 14:00:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'a8d0e5c00001'
down_revision = '7eed6e4815ba'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('desk_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('admin', 'inspector', 'institution', name='deskrole', native_enum=False, length=32), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_sign_in_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disabled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_desk_users_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_desk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_desk_users_username'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('desk_user_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_log_desk_user_id'), ['desk_user_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_audit_log_desk_user_id_desk_users'), 'desk_users', ['desk_user_id'], ['id'])
    # The dashboard reads a voucher holder's township from this index alone (models/progress.py).
    op.create_index('ix_persons_id_township_id', 'persons', ['id', 'township_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_persons_id_township_id', table_name='persons')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_log_desk_user_id_desk_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_audit_log_desk_user_id'))
        batch_op.drop_column('desk_user_id')
    op.drop_table('desk_users')

