"""second alerts and the SMS cap: `resend_on_restock`, `sms_cap_per_restock`

Revision ID: 0020
Revises: 0019

`shop.resend_on_restock` (off by default): a shopper alerted before who did not buy is alerted
again on the next restock, once per signup (`intent.resent_at`); such an alert is marked
`notification.resend`. `shop.sms_cap_per_restock` (null: none): a restock's SMS past the cap are
written held for the merchant to release; `restock_event.sms_held` counts them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop") as batch:
        batch.add_column(
            sa.Column("resend_on_restock", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("sms_cap_per_restock", sa.Integer(), nullable=True))
    with op.batch_alter_table("intent") as batch:
        batch.add_column(sa.Column("resent_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("notification") as batch:
        batch.add_column(
            sa.Column("resend", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("restock_event") as batch:
        batch.add_column(sa.Column("sms_held", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("restock_event") as batch:
        batch.drop_column("sms_held")
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("resend")
    with op.batch_alter_table("intent") as batch:
        batch.drop_column("resent_at")
    with op.batch_alter_table("shop") as batch:
        batch.drop_column("sms_cap_per_restock")
        batch.drop_column("resend_on_restock")
