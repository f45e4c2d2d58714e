"""job openings, pushes, unsubscribe

Revision ID: a8d0e5c00004
Revises: a8d0e5c00003
Create Date: 2026-11-25 14:00:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'a8d0e5c00004'
down_revision = 'a8d0e5c00003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_openings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('employer', sa.String(length=120), nullable=False),
    sa.Column('occupation', sa.String(length=60), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('township_id', sa.Integer(), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('wage', sa.String(length=60), nullable=False),
    sa.Column('contact', sa.String(length=60), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('push_idle_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_job_openings_category_id_categories')),
    sa.ForeignKeyConstraint(['created_by_id'], ['desk_users.id'], name=op.f('fk_job_openings_created_by_id_desk_users')),
    sa.ForeignKeyConstraint(['township_id'], ['regions.id'], name=op.f('fk_job_openings_township_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_openings'))
    )
    with op.batch_alter_table('job_openings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_openings_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_openings_township_id'), ['township_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_openings_valid_until'), ['valid_until'], unique=False)

    op.create_table('job_pushes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('pushed_on', sa.Date(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['job_openings.id'], name=op.f('fk_job_pushes_job_id_job_openings')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_job_pushes_outbox_id_outbox')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_job_pushes_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_pushes')),
    sa.UniqueConstraint('job_id', 'person_id', name=op.f('uq_job_pushes_job_id_person_id')),
    sa.UniqueConstraint('person_id', 'pushed_on', name=op.f('uq_job_pushes_person_id_pushed_on'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_broadcast', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsubscribed_at', models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_column('unsubscribed_at')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('is_broadcast')

    op.drop_table('job_pushes')
    with op.batch_alter_table('job_openings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_openings_valid_until'))
        batch_op.drop_index(batch_op.f('ix_job_openings_township_id'))
        batch_op.drop_index(batch_op.f('ix_job_openings_category_id'))

    op.drop_table('job_openings')
