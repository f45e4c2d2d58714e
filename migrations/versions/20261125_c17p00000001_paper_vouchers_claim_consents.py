"""paper vouchers: the cadre who claimed a voucher for a neighbour, and the neighbour's consent

Revision ID: c17p00000001
Revises: b14a00000004
Create Date: 2026-12-06 09:00:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'c17p00000001'
down_revision = 'c16c00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('claim_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('cadre_person_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('how', sa.Enum('wechat', 'paper', 'read_aloud', name='consenthow', native_enum=False, length=32), nullable=False),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('voucher_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['cadre_person_id'], ['persons.id'], name=op.f('fk_claim_consents_cadre_person_id_persons')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_claim_consents_course_id_courses')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_claim_consents_person_id_persons')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_claim_consents_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_consents')),
    sa.UniqueConstraint('voucher_id', name=op.f('uq_claim_consents_voucher_id'))
    )
    with op.batch_alter_table('claim_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_consents_cadre_person_id'), ['cadre_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_claim_consents_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_vouchers_claimed_by_id'), ['claimed_by_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_vouchers_claimed_by_id_persons'), 'persons', ['claimed_by_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_vouchers_claimed_by_id_persons'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_vouchers_claimed_by_id'))
        batch_op.drop_column('claimed_by_id')

    with op.batch_alter_table('claim_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_consents_person_id'))
        batch_op.drop_index(batch_op.f('ix_claim_consents_cadre_person_id'))

    op.drop_table('claim_consents')
