"""attendance_day: each mark carries its session's day, the key to partition attendance by year

Revision ID: c19v00000003
Revises: c19v00000002
Create Date: 2026-12-06 17:00:00

The unique key becomes (session_id, person_id, day): a partitioned table's unique key must hold
the partition key. The foreign key to the session becomes (session_id, day) → class_sessions
(id, day), so a mark's day is its session's and the key refuses the same marks as before.

On a province's PostgreSQL this rewrites every mark (BENCHMARKS.md, "Attendance partitioned"):
run `flask db upgrade` in a maintenance window, the app and the worker stopped on every
machine (README, "Tables that grow without end"); the app's 3 s statement limit is lifted here.
"""
from alembic import op
import sqlalchemy as sa


revision = 'c19v00000003'
down_revision = 'c19v00000002'
branch_labels = None
depends_on = None

SESSION_KEY = 'fk_attendance_session_id_class_sessions'
# The marks' own indexes (the models' names): on PostgreSQL built again after the rewrite.
INDEXES = {'ix_attendance_session_id': 'session_id', 'ix_attendance_person_id': 'person_id',
           'ix_attendance_voucher_id': 'voucher_id'}


def upgrade() -> None:
    is_postgres = op.get_bind().dialect.name == 'postgresql'
    if is_postgres:
        _upgrade_postgres()
    else:  # ADD COLUMN without rebuilding the table: the one rebuild is the batch below
        op.add_column('attendance', sa.Column('day', sa.Date(), nullable=True))
        op.execute("UPDATE attendance SET day = (SELECT class_sessions.day FROM class_sessions "
                   "WHERE class_sessions.id = attendance.session_id)")
    # An index, not a constraint: on SQLite a constraint would rebuild class_sessions, which
    # the marks' foreign keys forbid.
    op.create_index('ix_class_sessions_id_day', 'class_sessions', ['id', 'day'], unique=True)
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        if not is_postgres:  # dropped before the rewrite there
            batch_op.drop_constraint('uq_attendance_session_id_person_id', type_='unique')
        batch_op.alter_column('day', existing_type=sa.Date(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_attendance_session_id_person_id_day'),
                                          ['session_id', 'person_id', 'day'])
        batch_op.drop_constraint(batch_op.f(SESSION_KEY), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f(SESSION_KEY), 'class_sessions',
                                    ['session_id', 'day'], ['id', 'day'])


def _upgrade_postgres() -> None:
    """Every mark is rewritten: no 3 s statement limit (the app's), at most 10 s waiting for the
    table, and its indexes dropped first and built again after, as a bulk load does: kept up
    row by row, 10 million marks took 300 s (BENCHMARKS.md)."""
    op.execute("SET LOCAL statement_timeout = 0")
    op.execute("SET LOCAL lock_timeout = '10s'")
    op.add_column('attendance', sa.Column('day', sa.Date(), nullable=True))
    op.drop_constraint('uq_attendance_session_id_person_id', 'attendance', type_='unique')
    for name in INDEXES:
        op.drop_index(name, table_name='attendance')
    op.execute("UPDATE attendance SET day = s.day FROM class_sessions s "
               "WHERE s.id = attendance.session_id")
    for name, column in INDEXES.items():
        op.create_index(name, 'attendance', [column])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql' and bind.exec_driver_sql(
            "SELECT relkind FROM pg_class WHERE oid = to_regclass('attendance')").scalar() == 'p':
        raise RuntimeError(
            "attendance is partitioned by its day (flask db partition-attendance): the day "
            "cannot be dropped. Nothing was changed.")
    if bind.dialect.name == 'postgresql':  # the old keys are built over every mark again
        op.execute("SET LOCAL statement_timeout = 0")
        op.execute("SET LOCAL lock_timeout = '10s'")
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(SESSION_KEY), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f(SESSION_KEY), 'class_sessions',
                                    ['session_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('uq_attendance_session_id_person_id_day'),
                                 type_='unique')
        batch_op.create_unique_constraint('uq_attendance_session_id_person_id',
                                          ['session_id', 'person_id'])
        batch_op.drop_column('day')
    op.drop_index('ix_class_sessions_id_day', table_name='class_sessions')
