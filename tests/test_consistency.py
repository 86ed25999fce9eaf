"""The project's promises to itself: every webhook Shopify is told about has a handler, and every
setting is documented."""

import re
import tomllib
from pathlib import Path

import webhooks
from shopify_app.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_subscribed_topic_has_a_route_and_a_module():
    config = tomllib.loads((ROOT / "shopify.app.toml").read_text())
    text = (ROOT / "shopify.app.toml").read_text()
    subscriptions = config["webhooks"]["subscriptions"]
    assert subscriptions
    for sub in subscriptions:
        for topic in sub.get("topics", []) + sub.get("compliance_topics", []):
            assert topic in webhooks.HANDLERS, topic
            assert sub["uri"] == f"/webhooks/{topic}"
            module = f"webhooks/{topic.replace('/', '_')}.py"
            assert (ROOT / module).is_file(), module
            assert f"# Handled by: {module}" in text
    declared = {
        t for s in subscriptions for t in s.get("topics", []) + s.get("compliance_topics", [])
    }
    assert declared == set(webhooks.HANDLERS)


def test_toml_matches_the_settings_defaults():
    config = tomllib.loads((ROOT / "shopify.app.toml").read_text())
    defaults = Settings.model_fields
    assert config["access_scopes"]["scopes"] == defaults["SHOPIFY_SCOPES"].default
    assert config["webhooks"]["api_version"] == defaults["SHOPIFY_API_VERSION"].default
    assert config["auth"]["redirect_urls"][0].endswith("/auth/callback")
    assert config["app_proxy"]["url"].endswith("/proxy") and len(config["name"]) <= 30


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))
    missing = set(Settings.model_fields) - documented
    assert not missing, f"settings missing from README.md: {sorted(missing)}"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    blocks = re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S)
    run_app, run_tests = blocks[0], blocks[1]
    assert "shopify-app serve" in run_app and "pytest" in run_tests
    assert run_tests in (ROOT / ".ci" / "run").read_text()


def test_shopify_cli_can_run_the_app():
    web = tomllib.loads((ROOT / "shopify.web.toml").read_text())
    assert set(web["roles"]) == {"frontend", "backend"} and web["webhooks_path"].startswith(
        "/webhooks/"
    )
    assert "shopify-app serve" in web["commands"]["dev"]
    app = tomllib.loads((ROOT / "shopify.app.toml").read_text())
    assert app["app_proxy"]["subpath"] == "back-in-stock" and app["app_proxy"]["prefix"] == "apps"
