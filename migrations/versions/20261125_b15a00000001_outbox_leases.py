"""outbox leases: a message is 'sending' only while a worker's lease on it runs; an attempt cut
off is marked uncertain; an export job names the worker making it

Revision ID: b15a00000001
Revises: b14a00000003
Create Date: 2026-11-25 16:00:00

Rows left 'sending' by the old worker (no lease) are taken again as leases that ran out during
their call (models.outbox.take_lease): marked uncertain, and sent again or not by their kind.
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'b15a00000001'
down_revision = 'b14a00000003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leased_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('lease_until', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempt_started_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('is_uncertain', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leased_by', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.drop_column('leased_by')
    op.execute("UPDATE outbox SET status = 'failed', last_error = 'outcome unknown' "
               "WHERE status = 'uncertain'")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('is_uncertain')
        batch_op.drop_column('attempt_started_at')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('leased_by')
