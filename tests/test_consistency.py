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


def _settings_table() -> dict[str, str]:
    """The README's settings table: each setting named in a row's first cell, with the row's
    default cell."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| `") and len(cells) >= 3:
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]):
                rows[name] = cells[1]
    return rows


def test_every_setting_has_a_row_in_the_readme_settings_table():
    rows = _settings_table()
    fields = set(Settings.model_fields)
    assert not fields - set(rows), f"settings without a row: {sorted(fields - set(rows))}"
    assert not set(rows) - fields, f"rows for no setting: {sorted(set(rows) - fields)}"


def test_the_settings_table_gives_each_simple_default_as_the_code_has_it():
    """A row whose default cell is one literal (`600`, `true`, `2026-10`) says what the field
    holds; rows that describe (unset, required, a placeholder) are not compared."""
    checked = 0
    for name, cell in _settings_table().items():
        literal = re.fullmatch(r"`([^`]+)`(?: \(.*\))?", cell)
        if not literal:
            continue
        default = Settings.model_fields[name].default
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        if isinstance(default, float) and default.is_integer():
            shown = str(int(default))
        assert literal.group(1) == shown, f"{name}: README says {cell}, the code {default!r}"
        checked += 1
    assert checked >= 20


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


def test_the_readme_layout_names_every_module_and_package():
    """Someone new finds where a thing lives from the README's layout: every module and package of
    shopify_app/ (and the top-level folders) is named there."""
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"[a-z_]+(?:\.py|/)", layout))
    package = ROOT / "shopify_app"
    expected = {
        p.name if p.suffix == ".py" else p.name + "/"
        for p in package.iterdir()
        if (p.suffix == ".py" and p.name not in ("__init__.py", "__main__.py"))
        or (p.is_dir() and not p.name.startswith("__"))
    } | {"webhooks/", "templates/", "extensions/", "migrations/", "tests/", "bench/", "docs/"}
    missing = {name for name in expected if name not in named and name[:-3] not in layout}
    assert not missing, f"not in the README's layout: {sorted(missing)}"


def test_every_polaris_token_the_admin_uses_is_vendored():
    """The admin's templates use Polaris's tokens (`var(--p-…)`); tools/vendor_assets.py copies
    those from @shopify/polaris-tokens into templates/admin/polaris-tokens.css. A token used but
    not copied would silently fall back to nothing: run the tool after using a new one."""
    import re

    admin = ROOT / "templates" / "admin"
    vendored = set(re.findall(r"(--p-[a-z0-9-]+):", (admin / "polaris-tokens.css").read_text()))
    used = set()
    for path in admin.glob("*.html"):
        used |= set(re.findall(r"var\((--p-[a-z0-9-]+)", path.read_text()))
    assert used and used <= vendored, sorted(used - vendored)
    assert (admin / "polaris-tokens.css").read_text().startswith("/* @shopify/polaris-tokens@")
