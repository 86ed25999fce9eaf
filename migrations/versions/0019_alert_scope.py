"""alert scope: published products only, the locations whose stock counts, markets' locations

Revision ID: 0019
Revises: 0018

`shop.published_only` (alerts only while the product is active and on the Online Store) and
`shop.alert_locations` (a JSON list of location ids whose stock counts; null: all). On the variant
cache, `published` (null: not known yet) and `decided_stock`, the stock each audience (signups
without a market, and each market with its own locations) had when the app last decided on it.
`market_location` is which locations serve each market, read from Shopify (markets' countries and
the delivery profiles' zones: `stock_scope.py`).
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop") as batch:
        batch.add_column(
            sa.Column("published_only", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("alert_locations", sa.Text(), nullable=True))
    with op.batch_alter_table("variant") as batch:
        batch.add_column(sa.Column("published", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("decided_stock", sa.Text(), nullable=True))
    op.create_table(
        "market_location",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.BigInteger(), nullable=False),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("market_name", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id", "market_id", "location_id"),
    )


def downgrade() -> None:
    op.drop_table("market_location")
    with op.batch_alter_table("variant") as batch:
        batch.drop_column("decided_stock")
        batch.drop_column("published")
    with op.batch_alter_table("shop") as batch:
        batch.drop_column("alert_locations")
        batch.drop_column("published_only")
