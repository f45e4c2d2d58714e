"""Export files sealed with the data key; the reason for a file with full ID numbers

Files made before this revision were kept clear: they are removed (the job stays, saying the
file was removed; whoever needs it makes it again, sealed).

Revision ID: b14a00000004
Revises: b15a00000001
Create Date: 2026-11-25 18:00:00
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import models.base

revision = 'b14a00000004'
down_revision = 'b15a00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=200), nullable=True))
    jobs = sa.table('export_jobs', sa.column('content', sa.LargeBinary()),
                    sa.column('file_removed_at', models.base.UTCDateTime(timezone=True)))
    op.execute(jobs.update().where(jobs.c.content.is_not(None))
               .values(content=None, file_removed_at=datetime.now(UTC)))


def downgrade() -> None:
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.drop_column('reason')
