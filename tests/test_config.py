import os
import subprocess
import sys
from pathlib import Path

import pytest

from shopify_app.config import ConfigError, Settings

GOOD = {
    "SHOPIFY_API_KEY": "0123abcd",
    "SHOPIFY_API_SECRET": "shpss_real_secret_value",
    "SECRET_KEY": "k" * 40,
}


def test_production_needs_real_secrets():
    Settings(APP_ENV="production", **GOOD).check()
    for name in GOOD:
        with pytest.raises(ConfigError, match=name):
            Settings(APP_ENV="production", **{**GOOD, name: ""}).check()
    for placeholder in ("changeme", "dev-api-secret-not-for-production"):
        with pytest.raises(ConfigError, match="SHOPIFY_API_SECRET"):
            Settings(APP_ENV="production", **{**GOOD, "SHOPIFY_API_SECRET": placeholder}).check()
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings(APP_ENV="production", **{**GOOD, "SECRET_KEY": "short"}).check()


def test_development_fills_placeholders():
    settings = Settings(
        APP_ENV="development", SHOPIFY_API_KEY="", SHOPIFY_API_SECRET="", SECRET_KEY=""
    ).check()
    assert settings.SHOPIFY_API_SECRET and len(settings.SECRET_KEY) >= 32


def test_settings_read_the_environment_and_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SHOPIFY_API_VERSION=2026-01\nAPP_URL=https://x.example/\n")
    monkeypatch.setenv("SHOPIFY_SCOPES", "read_products")
    settings = Settings()
    assert settings.SHOPIFY_API_VERSION == "2026-01" and settings.APP_URL == "https://x.example"
    assert settings.scopes == ["read_products"]


def _cli(*args, env=None, cwd=None):
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SHOPIFY_", "SECRET_KEY", "APP_", "DATABASE_URL"))
    }
    return subprocess.run(
        [sys.executable, "-m", "shopify_app", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.slow
def test_serve_refuses_to_start_with_one_line_naming_the_setting(tmp_path):
    result = _cli(
        "serve", "--port", "1", cwd=tmp_path, env={"SHOPIFY_API_KEY": "k", "SECRET_KEY": "s" * 40}
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SHOPIFY_API_SECRET" in lines[0]
    placeholder = _cli(
        "serve", "--port", "1", cwd=tmp_path, env={**GOOD, "SECRET_KEY": "changeme" * 5}
    )
    assert placeholder.returncode != 0 and "SECRET_KEY" in placeholder.stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", [[], ["serve"], ["migrate"]])
def test_help(command):
    result = _cli(*command, "--help")
    assert result.returncode == 0 and "usage: shopify-app" in result.stdout


@pytest.mark.slow
def test_migrate_command_makes_the_schema(tmp_path):
    db = tmp_path / "m.sqlite3"
    result = _cli("migrate", cwd=tmp_path, env={**GOOD, "DATABASE_URL": f"sqlite:///{db}"})
    assert result.returncode == 0, result.stderr
    import sqlite3

    tables = {
        r[0]
        for r in sqlite3.connect(db).execute("select name from sqlite_master where type='table'")
    }
    assert {
        "shop",
        "customer",
        "intent",
        "webhook_delivery",
        "oauth_state",
        "alembic_version",
    } <= tables
    assert Path(db).exists()


def test_settings_take_what_shopify_cli_injects(monkeypatch):
    monkeypatch.setenv("SHOPIFY_APP_URL", "https://tunnel.trycloudflare.example/")
    monkeypatch.setenv("SCOPES", "read_products,write_app_proxy")
    settings = Settings()
    assert settings.APP_URL == "https://tunnel.trycloudflare.example"
    assert settings.SHOPIFY_SCOPES == "read_products,write_app_proxy"
    monkeypatch.setenv("APP_URL", "https://app.example")  # the app's own name wins
    assert Settings().APP_URL == "https://app.example"


def test_serve_listens_on_port_from_the_environment(monkeypatch):
    from shopify_app.cli import build_parser

    monkeypatch.setenv("PORT", "8765")
    assert build_parser().parse_args(["serve"]).port == 8765


@pytest.mark.parametrize("value", ["60/minute", "1/second", "20/hour"])
def test_rate_limits_take_n_per_unit(value):
    assert value == Settings(SIGNUP_RATE_LIMIT=value).SIGNUP_RATE_LIMIT


@pytest.mark.parametrize("value", ["60", "0/minute", "60/day", "lots/minute"])
def test_rate_limits_refuse_other_forms(value):
    with pytest.raises(ValueError, match="SIGNUP_CONTACT_LIMIT"):
        Settings(SIGNUP_CONTACT_LIMIT=value)


def test_development_does_not_reconcile_unless_asked():
    assert Settings(APP_ENV="development").check().RECONCILE_INTERVAL_SECONDS == 0
    assert (
        Settings(APP_ENV="development", RECONCILE_INTERVAL_SECONDS=60)
        .check()
        .RECONCILE_INTERVAL_SECONDS
        == 60
    )
    assert Settings(APP_ENV="production", **GOOD).check().RECONCILE_INTERVAL_SECONDS == 900
