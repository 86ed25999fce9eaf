"""compose.yaml, the Dockerfile and .env.example against the code they run (issue 17, item 7):
commands the CLI really parses, settings the app really reads, the health route it really serves,
the folders the app reads beside its package really copied. So none of them can rot unnoticed."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shopify_app.cli import build_parser
from shopify_app.config import Settings
from shopify_app.routes import health

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
# The variables compose.yaml itself reads from .env (beside the app's own settings).
COMPOSE_VARIABLES = {"POSTGRES_PASSWORD", "POSTGRES_MAX_CONNECTIONS", "WEB_CONCURRENCY", "APP_PORT"}


def instructions(name: str) -> list[str]:
    """The Dockerfile's `name` instructions, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_the_services_are_postgres_redis_a_one_shot_migrate_app_and_worker():
    assert set(SERVICES) == {"postgres", "redis", "migrate", "app", "worker"}
    for name in ("postgres", "redis"):
        assert SERVICES[name]["healthcheck"]["test"][0] == "CMD"


@pytest.mark.parametrize(
    ("service", "subcommand"), [("migrate", "migrate"), ("app", "serve"), ("worker", "worker")]
)
def test_each_app_service_runs_a_real_subcommand(service, subcommand):
    args = build_parser().parse_args(SERVICES[service]["command"])
    assert args.command == subcommand


def test_app_and_worker_start_after_migrate_has_succeeded():
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["restart"] == "no"
    for service in ("app", "worker"):
        depends = SERVICES[service]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"


def test_the_app_runs_no_worker_and_listens_beyond_the_container():
    app = SERVICES["app"]
    assert app["environment"]["WORKER_IN_PROCESS"] == "false"
    assert build_parser().parse_args(app["command"]).host == "0.0.0.0"


def test_every_setting_compose_and_env_example_give_is_one_the_app_reads():
    fields = set(Settings.model_fields)
    for service in ("migrate", "app", "worker"):
        assert set(SERVICES[service]["environment"]) - fields <= {"WEB_CONCURRENCY"}
    example = (ROOT / ".env.example").read_text()
    names = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert names - fields <= COMPOSE_VARIABLES, names - fields - COMPOSE_VARIABLES
    for required in ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "SECRET_KEY", "APP_URL"):
        assert re.search(rf"^{required}=", example, re.MULTILINE), required
    used = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "compose.yaml").read_text()))
    assert used <= COMPOSE_VARIABLES, used - COMPOSE_VARIABLES


def test_the_worker_healthcheck_runs(settings):
    """The worker's check is Python run in the image: here it runs against the test database."""
    command = SERVICES["worker"]["healthcheck"]["test"]
    assert command[:2] == ["CMD", "python"]
    env = {name: str(value) for name, value in settings.model_dump().items() if value is not None}
    done = subprocess.run([sys.executable, *command[2:]], env=env, timeout=60)
    assert done.returncode == 0


def test_the_image_runs_shopify_app_serve_with_a_health_check_on_a_real_route():
    (entrypoint,) = instructions("ENTRYPOINT")
    (cmd,) = instructions("CMD")
    assert yaml.safe_load(entrypoint) == ["shopify-app"]
    assert build_parser().parse_args(yaml.safe_load(cmd)).command == "serve"
    (check,) = instructions("HEALTHCHECK")
    paths = re.findall(r"/[a-z]+(?=')", check)
    assert paths and set(paths) <= {route.path for route in health.routes}
    assert instructions("USER") == ["10001:10001"]  # the `app` user, non-root
    assert len(instructions("FROM")) >= 2  # multi-stage


def test_the_image_copies_every_folder_the_app_reads_and_the_build_context_lets_them_in():
    copied = {line.split()[0] for line in instructions("COPY") if not line.startswith("--from")}
    needed = {"shopify_app", "webhooks", "templates", "migrations", "extensions"}
    assert needed <= copied
    allowed = {
        line.strip("!/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert needed | {"pyproject.toml", "README.md"} <= allowed
    for folder in needed:
        assert (ROOT / folder).is_dir()


def test_serve_refuses_more_than_one_worker_on_sqlite_in_one_line(settings, tmp_path):
    env = {name: str(value) for name, value in settings.model_dump().items() if value is not None}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'one.sqlite3'}"
    done = subprocess.run(
        [sys.executable, "-m", "shopify_app", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "--workers must be 1 on SQLite" in done.stderr
