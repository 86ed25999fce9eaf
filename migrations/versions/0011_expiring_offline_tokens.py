"""expiring offline access tokens: the refresh token (encrypted), both expiries, and a shop's reconnect state

Revision ID: 0011
Revises: 0010

From 2027-01-01 Shopify refuses non-expiring offline tokens from public apps (PLATFORM.md section
1). A shop's access token now lives an hour and comes with a refresh token (rotated on every use),
encrypted like the access token. `access_token_expires_at` NULL is a non-expiring token, which the
worker migrates; `reconnect_needed_at` is set when Shopify refused a refresh (the merchant must open
the app again), `reconnect_logged_at` keeps that warning to once an hour. A job that needs the Admin
API of such a shop waits (status `waiting`) until a new token is stored. Shops uninstalled earlier
lose the merchant API key they kept.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("access_token_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("access_token_issued_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("refresh_token_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("refresh_token_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reconnect_needed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reconnect_logged_at", sa.DateTime(timezone=True), nullable=True)
        )
    # An uninstall now forgets the merchant API key; shops uninstalled before kept it, and a
    # reinstall would have brought it back.
    op.execute(
        "UPDATE shop SET api_key_hash = NULL, api_key_created_at = NULL WHERE uninstalled_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("shop", schema=None) as batch_op:
        for name in (
            "reconnect_logged_at",
            "reconnect_needed_at",
            "refresh_token_expires_at",
            "refresh_token_encrypted",
            "access_token_issued_at",
            "access_token_expires_at",
        ):
            batch_op.drop_column(name)
