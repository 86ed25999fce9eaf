"""restock-to-alert latency: when the webhook behind a restock reached the app

Revision ID: 0016
Revises: 0015

A restock event keeps when the inventory webhook that caused it was received; with the event's
created_at (decided) and each notification's sent_at, the delivery log and the fan-out bench show
how long an alert took from Shopify's word to the shopper.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("restock_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("restock_event", schema=None) as batch_op:
        batch_op.drop_column("received_at")
