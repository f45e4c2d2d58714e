"""mini-program accounts and API sessions (issue 9; helper A)

Revision ID: a9a0e5c00001
Revises: a8d0e5c00004
Create Date: 2026-11-25 14:00:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'a9a0e5c00001'
down_revision = 'a8d0e5c00004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
