"""merchant settings on the shop, their change log, and the merchant API key's hash

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop", schema=None) as batch_op:
        for name in ("channel_email", "channel_sms", "channel_push", "automatic_sending"):
            batch_op.add_column(
                sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.true())
            )
        batch_op.add_column(sa.Column("high_demand_threshold", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("sender_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("reply_to", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("api_key_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("api_key_created_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint("uq_shop_api_key_hash", ["api_key_hash"])
    op.create_table(
        "settings_change",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=True),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_settings_change_shop_id"), "settings_change", ["shop_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_settings_change_shop_id"), table_name="settings_change")
    op.drop_table("settings_change")
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.drop_constraint("uq_shop_api_key_hash", type_="unique")
        for name in (
            "api_key_created_at",
            "api_key_hash",
            "currency",
            "reply_to",
            "sender_name",
            "high_demand_threshold",
            "automatic_sending",
            "channel_push",
            "channel_sms",
            "channel_email",
        ):
            batch_op.drop_column(name)
