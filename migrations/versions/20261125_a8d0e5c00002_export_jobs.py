"""export jobs with progress (issue 8; helper C)

Revision ID: a8d0e5c00002
Revises: a8d0e5c00001
Create Date: 2026-11-25 14:00:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'a8d0e5c00002'
down_revision = 'a8d0e5c00001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
