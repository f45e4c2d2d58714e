"""courses: publicly procured (QJ2019 (十七)); skill levels under one name (issue 16, items 4 and 6)

Revision ID: c16c00000001
Revises: b14a00000004
Create Date: 2026-12-06 10:00:00

A course gets `is_publicly_procured` (false for every existing course: the bureau marks the
courses it bought by public tender by importing them again with the column).

Existing levels are rewritten to the catalogue's name of their grade (五级 → 初级工 …), as
models/levels.py reads them, so that 电工 五级 and 电工 初级工 are one level in every
comparison. The table of names is copied here on purpose: a migration must keep meaning what
it meant when it ran. Text that names no grade is left as it is.
"""
from alembic import op
import sqlalchemy as sa


revision = 'c16c00000001'
down_revision = 'b14a00000004'
branch_labels = None
depends_on = None

# other name -> the catalogue's name (models/levels.py, as of this revision)
LEVEL_NAMES = {
    **dict.fromkeys(("初级", "五级", "5级", "５级", "国家职业资格五级", "职业技能等级五级"), "初级工"),
    **dict.fromkeys(("中级", "四级", "4级", "４级", "国家职业资格四级", "职业技能等级四级"), "中级工"),
    **dict.fromkeys(("高级", "三级", "3级", "３级", "国家职业资格三级", "职业技能等级三级"), "高级工"),
    **dict.fromkeys(("二级", "2级", "２级", "国家职业资格二级", "职业技能等级二级"), "技师"),
    **dict.fromkeys(("一级", "1级", "１级", "国家职业资格一级", "职业技能等级一级"), "高级技师"),
}


def upgrade() -> None:
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_publicly_procured', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    courses = sa.table('courses', sa.column('certificate_level', sa.String(20)))
    for other, name in LEVEL_NAMES.items():
        op.execute(courses.update().where(courses.c.certificate_level == other)
                   .values(certificate_level=name))


def downgrade() -> None:
    # The levels stay under their catalogue names: they meant the same grade before.
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_column('is_publicly_procured')
