"""Secrets at rest: access tokens are encrypted, and SECRET_KEY can be rotated without breaking a
stored token or a link already sent (SECRET_KEY_FALLBACKS, `shopify-app rotate-keys`)."""

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from shopify_app.config import ConfigError, Settings
from shopify_app.crypto import decrypt_token, encrypt_token, signer, unsign
from shopify_app.db import session_scope
from shopify_app.models import Shop
from shopify_app.notify.render import unsubscribe_token

from .support import API_KEY, API_SECRET, install_shop

OLD, NEW = (
    "old-secret-key-0123456789-abcdefghijklmnop",
    "new-secret-key-0123456789-abcdefghijklmnop",
)


def test_a_ring_decrypts_and_verifies_with_any_key_and_writes_with_the_first():
    token = encrypt_token(OLD, "shpat_abc")
    assert decrypt_token(NEW, token) is None
    assert decrypt_token((NEW, OLD), token) == "shpat_abc"
    fresh = encrypt_token((NEW, OLD), "shpat_abc")
    assert decrypt_token(NEW, fresh) == "shpat_abc"  # the first key of the ring encrypts
    link = signer(OLD, "unsubscribe").dumps(42)
    assert unsign(NEW, "unsubscribe", link, 60) is None
    assert unsign((NEW, OLD), "unsubscribe", link, 60) == 42
    assert unsign(NEW, "unsubscribe", signer((NEW, OLD), "unsubscribe").dumps(7), 60) == 7


def test_fallbacks_must_be_long_enough():
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS"):
        Settings(
            APP_ENV="production",
            SHOPIFY_API_KEY="k1234",
            SHOPIFY_API_SECRET="shpss_real_secret",
            SECRET_KEY=NEW,
            SECRET_KEY_FALLBACKS="short",
        ).check()


@pytest.mark.slow
def test_rotation_keeps_old_links_working_and_rotate_keys_reencrypts_tokens(
    engine, settings, database_url
):
    old = settings.model_copy(update={"SECRET_KEY": OLD})
    install_shop(
        engine,
        old,
        "rotated-shop.myshopify.com",
        token="shpat_rotated",
        refresh_token="shprt_rotated",
        webhook_url="https://hooks.example.com/",
        webhook_secret_encrypted=encrypt_token(OLD, "bisw_rotated"),
    )
    old_link = unsubscribe_token(OLD, 99)
    rotated = settings.model_copy(update={"SECRET_KEY": NEW, "SECRET_KEY_FALLBACKS": OLD})
    assert unsign(rotated.secret_keys, "unsubscribe", old_link, 60) == 99

    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "SECRET_KEY", "APP_"))
    }
    env.update(
        SHOPIFY_API_KEY=API_KEY,
        SHOPIFY_API_SECRET=API_SECRET,
        SECRET_KEY=NEW,
        DATABASE_URL=database_url,
    )
    without = subprocess.run(
        [sys.executable, "-m", "shopify_app", "rotate-keys"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert without.returncode == 1 and "3 open with no key" in without.stdout  # nothing changed
    done = subprocess.run(
        [sys.executable, "-m", "shopify_app", "rotate-keys"],
        env={**env, "SECRET_KEY_FALLBACKS": OLD},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "3 stored tokens and webhook secrets" in done.stdout, (
        done.stdout + done.stderr
    )
    with session_scope(engine) as session:
        access, refresh = session.execute(
            select(Shop.access_token_encrypted, Shop.refresh_token_encrypted)
        ).one()
    assert decrypt_token(NEW, access) == "shpat_rotated" and decrypt_token(OLD, access) is None
    assert decrypt_token(NEW, refresh) == "shprt_rotated" and decrypt_token(OLD, refresh) is None
    assert "shpat_rotated" not in access and "shprt_rotated" not in refresh
    with session_scope(engine) as session:
        secret = session.execute(select(Shop.webhook_secret_encrypted)).scalar_one()
    assert decrypt_token(NEW, secret) == "bisw_rotated" and decrypt_token(OLD, secret) is None
