"""mini-program accounts and API sessions

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
    op.create_table('mini_program_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('unionid', sa.String(length=64), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('session_key_sealed', sa.Text(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('signed_in_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('linked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_mini_program_accounts_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mini_program_accounts')),
    sa.UniqueConstraint('openid', name=op.f('uq_mini_program_accounts_openid'))
    )
    with op.batch_alter_table('mini_program_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mini_program_accounts_person_id'), ['person_id'], unique=False)

    op.create_table('mini_program_link_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_mini_program_link_codes_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mini_program_link_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_mini_program_link_codes_code_hash'))
    )
    with op.batch_alter_table('mini_program_link_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mini_program_link_codes_person_id'), ['person_id'], unique=False)

    op.create_table('api_refresh_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('family', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('issued_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['mini_program_accounts.id'], name=op.f('fk_api_refresh_tokens_account_id_mini_program_accounts')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_api_refresh_tokens_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_refresh_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_refresh_tokens_token_hash'))
    )
    with op.batch_alter_table('api_refresh_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_refresh_tokens_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_refresh_tokens_family'), ['family'], unique=False)

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unionid', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_persons_unionid'), ['unionid'])


def downgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_persons_unionid'), type_='unique')
        batch_op.drop_column('unionid')

    with op.batch_alter_table('api_refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_refresh_tokens_family'))
        batch_op.drop_index(batch_op.f('ix_api_refresh_tokens_account_id'))

    op.drop_table('api_refresh_tokens')
    with op.batch_alter_table('mini_program_link_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mini_program_link_codes_person_id'))

    op.drop_table('mini_program_link_codes')
    with op.batch_alter_table('mini_program_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mini_program_accounts_person_id'))

    op.drop_table('mini_program_accounts')
