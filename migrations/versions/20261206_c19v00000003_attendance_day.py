"""attendance_day: each mark carries its session's day, the key to partition attendance by year

Revision ID: c19v00000003
Revises: c19v00000002
Create Date: 2026-12-06 17:00:00

The unique key becomes (session_id, person_id, day): a partitioned table's unique key must hold
the partition key. A session has one day, so it refuses the same marks as before.
"""
from alembic import op
import sqlalchemy as sa


revision = 'c19v00000003'
down_revision = 'c19v00000002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('day', sa.Date(), nullable=True))
    op.execute("UPDATE attendance SET day = (SELECT class_sessions.day FROM class_sessions "
               "WHERE class_sessions.id = attendance.session_id)")
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.alter_column('day', existing_type=sa.Date(), nullable=False)
        batch_op.drop_constraint('uq_attendance_session_id_person_id', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_attendance_session_id_person_id_day'),
                                          ['session_id', 'person_id', 'day'])


def downgrade() -> None:
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_attendance_session_id_person_id_day'),
                                 type_='unique')
        batch_op.create_unique_constraint('uq_attendance_session_id_person_id',
                                          ['session_id', 'person_id'])
        batch_op.drop_column('day')
