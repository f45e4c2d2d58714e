"""outbox pruning: sent messages found by age, and job pushes by their message

Revision ID: c19v00000001
Revises: c16p00000001
Create Date: 2026-12-06 07:00:00
"""
from alembic import op


revision = 'c19v00000001'
down_revision = 'c16p00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_status_sent_at', ['status', 'sent_at'], unique=False)
    with op.batch_alter_table('job_pushes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_pushes_outbox_id'), ['outbox_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('job_pushes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_pushes_outbox_id'))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_status_sent_at')
