"""the shop's profile is read again each day: `shop.profile_queued_at`

Revision ID: 0025
Revises: 0024

The `shop_profile` job (the shop's name and currency, its locations' names, which locations serve
each market) ran only after an install, so a market or a delivery profile the merchant changed
later went unseen until the next install. `shop.profile_queued_at` is when the job was last queued:
the worker queues it again for each installed shop a day after (shop_profile.queue_stale).
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop") as batch:
        batch.add_column(sa.Column("profile_queued_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shop") as batch:
        batch.drop_column("profile_queued_at")
