"""the weekly summary email to the merchant: `shop.weekly_summary`, `shop.weekly_summary_week`

Revision ID: 0024
Revises: 0023

`shop.weekly_summary` (off by default) asks for an email each Monday with the past week's signups,
alerts, conversions, revenue and most wanted products; `shop.weekly_summary_week` is the Monday of
the last week one was queued for, so each week is summarised once (notify/weekly_summary.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop") as batch:
        batch.add_column(
            sa.Column("weekly_summary", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("weekly_summary_week", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shop") as batch:
        batch.drop_column("weekly_summary_week")
        batch.drop_column("weekly_summary")
