"""the shop's name (read from Shopify after install) and the alert email's brand: logo and colour

Revision ID: 0013
Revises: 0012

Alerts named the shop by its sender-name setting or its myshopify domain; Shopify's own name for
the shop is now read once after install (a `shop_profile` job) and kept. `brand_logo_url` (https)
and `brand_color` (#rrggbb) are the merchant's settings for the alert email.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("brand_logo_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("brand_color", sa.String(length=7), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.drop_column("brand_color")
        batch_op.drop_column("brand_logo_url")
        batch_op.drop_column("name")
