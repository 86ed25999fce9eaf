"""fair sending across shops: an index of waiting messages by shop, oldest first

Revision ID: 0018
Revises: 0017

The sender shares each claimed batch among the shops with messages waiting, each shop's oldest
first (notify/attempts.py), so one shop's huge restock does not hold back another shop's alerts.
Finding those shops and each one's oldest messages reads this index.
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_notification_pending_shop", "notification", ["status", "shop_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_notification_pending_shop", table_name="notification")
