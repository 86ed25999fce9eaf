"""Merchant API keys: made at random, kept only as a hash, replaced by rotation; and the operator's
command `shopify-app api-key SHOP_DOMAIN`."""

import hashlib
import os
import subprocess
import sys

import pytest
from sqlalchemy import select, update

from shopify_app.external_api import api_keys
from shopify_app.shops import shops

from .support import API_KEY, API_SECRET, SECRET_KEY, install_shop

SHOP = "demo-shop.myshopify.com"


def _cli(*args, env=None):
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SHOPIFY_", "SECRET_KEY", "APP_", "DATABASE_URL"))
    }
    return subprocess.run(
        [sys.executable, "-m", "shopify_app", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _stored(engine, domain=SHOP):
    with engine.connect() as c:
        return c.execute(
            select(shops.c.api_key_hash, shops.c.api_key_created_at).where(shops.c.domain == domain)
        ).one()


def test_rotate_keeps_only_the_hash_and_the_old_key_stops_working(engine, shop):
    with engine.begin() as c:
        first = api_keys.rotate(c, shop)
    stored = _stored(engine)
    assert (
        stored.api_key_hash == hashlib.sha256(first.encode()).hexdigest()
        and stored.api_key_created_at
    )
    assert first.startswith("bis_") and len(first) >= 40
    with engine.begin() as c:
        second = api_keys.rotate(c, shop.upper())
    with engine.connect() as c:
        assert api_keys.shop_for_key(c, first) is None
        assert api_keys.shop_for_key(c, second).domain == SHOP
        assert api_keys.shop_for_key(c, "") is None and api_keys.shop_for_key(c, None) is None


def test_rotate_refuses_unknown_and_uninstalled_shops(engine, shop):
    with engine.begin() as c, pytest.raises(api_keys.UnknownShop):
        api_keys.rotate(c, "nobody.myshopify.com")
    with engine.begin() as c:
        key = api_keys.rotate(c, shop)
        c.execute(
            update(shops).values(uninstalled_at=api_keys.utcnow(), access_token_encrypted=None)
        )
    with engine.connect() as c:
        assert api_keys.shop_for_key(c, key) is None  # an uninstalled shop's key does not work
    with engine.begin() as c, pytest.raises(api_keys.UnknownShop):
        api_keys.rotate(c, shop)


def test_keys_of_two_shops_differ_and_find_their_own_shop(engine, settings, shop):
    install_shop(engine, settings, domain="other.myshopify.com")
    with engine.begin() as c:
        a, b = api_keys.rotate(c, shop), api_keys.rotate(c, "other.myshopify.com")
    with engine.connect() as c:
        assert a != b
        assert api_keys.shop_for_key(c, a).domain == SHOP
        assert api_keys.shop_for_key(c, b).domain == "other.myshopify.com"


@pytest.mark.slow
def test_the_command_prints_a_working_key_as_its_last_line(engine, database_url, shop):
    env = {
        "SHOPIFY_API_KEY": API_KEY,
        "SHOPIFY_API_SECRET": API_SECRET,
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
    }
    result = _cli("api-key", SHOP, env=env)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    with engine.connect() as c:
        assert api_keys.shop_for_key(c, key).domain == SHOP
    again = _cli("api-key", SHOP, env=env).stdout.strip().splitlines()[-1]
    with engine.connect() as c:
        assert (
            again != key
            and api_keys.shop_for_key(c, key) is None
            and api_keys.shop_for_key(c, again) is not None
        )


@pytest.mark.slow
def test_the_command_refuses_an_unknown_shop_in_one_line(engine, database_url, shop):
    env = {
        "SHOPIFY_API_KEY": API_KEY,
        "SHOPIFY_API_SECRET": API_SECRET,
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
    }
    result = _cli("api-key", "nobody.myshopify.com", env=env)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nobody.myshopify.com" in lines[0]
