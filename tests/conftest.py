"""Every test that touches the database runs once on SQLite and once on PostgreSQL
(`--db sqlite` or `--db postgresql` picks one). The schema comes from the Alembic migrations."""

import logging
import os
import re
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from shopify_app import logs, migrate
from shopify_app.app import create_app
from shopify_app.config import Settings
from shopify_app.db import make_engine
from shopify_app.keys import encrypt_token
from shopify_app.models import Shop, utcnow
from shopify_app.db import session_scope

from .fakes.shopify import FakeShopify
from .support import API_KEY, API_SECRET, SECRET_KEY, serve_in_thread

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TABLES_CHILD_FIRST = [
    "send_attempt", "notification", "restock_event", "job", "inventory_level", "variant",
    "intent", "customer", "webhook_delivery", "oauth_state", "rate_limit_counter", "settings_change", "shop",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", default="sqlite,postgresql", help="backends to run on: sqlite,postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = [b.strip() for b in metafunc.config.getoption("--db").split(",") if b.strip()]
        metafunc.parametrize("backend", backends, scope="session")


@pytest.fixture(scope="session")
def migrated_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database made by the migrations, for the whole session."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        migrate.upgrade(url)
        yield url
        return
    name = f"shopify_app_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(migrated_url: str) -> str:
    """The session's database, emptied before each test."""
    engine = make_engine(migrated_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES_CHILD_FIRST)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES_CHILD_FIRST:
                conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()
    return migrated_url


@pytest.fixture
def engine(database_url: str):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def fake_shopify() -> Iterator[FakeShopify]:
    fake = FakeShopify(api_key=API_KEY, api_secret=API_SECRET)
    with serve_in_thread(fake.app) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
def settings(database_url: str, fake_shopify: FakeShopify) -> Settings:
    fake_shopify.reset()
    return Settings(
        APP_ENV="production",
        SHOPIFY_API_KEY=API_KEY,
        SHOPIFY_API_SECRET=API_SECRET,
        SECRET_KEY=SECRET_KEY,
        DATABASE_URL=database_url,
        SHOPIFY_ADMIN_BASE_URL=fake_shopify.base_url + "/{shop}",
        APP_URL="https://app.example.test",
        SHOPIFY_HTTP_TIMEOUT=1.0,
        PUSH_ENDPOINT_ALLOWLIST="fcm.googleapis.com,updates.push.services.mozilla.com,127.0.0.1",
        WORKER_IN_PROCESS=False,
        SIGNUP_RATE_LIMIT="1000000/hour",  # tests of the limits set their own
        SIGNUP_CONTACT_LIMIT="1000000/hour",
    ).check()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="https://app.example.test") as client:
        yield client


def install_shop(engine, settings: Settings, domain: str = "demo-shop.myshopify.com", token: str | None = None,
                 **policy) -> int:
    """An installed shop, as the OAuth callback would have stored it."""
    now = utcnow()
    with session_scope(engine) as session:
        shop = Shop(
            domain=domain,
            access_token_encrypted=encrypt_token(settings.SECRET_KEY, token or f"shpat_{uuid.uuid4().hex}"),
            scopes=settings.SHOPIFY_SCOPES,
            installed_at=now,
            **policy,
        )
        session.add(shop)
        session.flush()
        return shop.id


@pytest.fixture
def shop(engine, settings: Settings) -> str:
    install_shop(engine, settings)
    return "demo-shop.myshopify.com"


def pytest_terminal_summary(terminalreporter) -> None:
    from .support import CASE_COUNTS

    if CASE_COUNTS:
        terminalreporter.section("generated cases")
        for name, counts in sorted(CASE_COUNTS.items()):
            codes = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()) if k != "cases")
            terminalreporter.write_line(f"{name}: {counts.get('cases', 0)} cases ({codes})")


# -- What a full run logged must not carry personal data (issue 7, item 4) -----------------------
# Every log line the app writes during the run is collected as it would be written (JSON, through
# the redacting formatter) and searched at the end; a find fails the run.
_LOGGED: list[str] = []
_PERSONAL = re.compile(
    r"[A-Za-z0-9._%+-]{2,}@[A-Za-z0-9-]+\.[A-Za-z]{2,}"   # an unmasked email (masked: a***@example.com)
    r"|\+\d{7,15}\b"                                      # an unmasked E.164 phone
    r"|\[parameters:|Secretname"                          # bound SQL values; the privacy tests' shopper
)


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("shopify_app.test"):  # test_logs writes contacts on purpose
            _LOGGED.append(self.format(record))


def pytest_configure(config: pytest.Config) -> None:
    handler = _Collect(level=logging.INFO)
    handler.setFormatter(logs.JsonFormatter())
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found = [line for line in _LOGGED if _PERSONAL.search(line)]
    if found:
        print(f"\n{len(found)} log lines carry personal data, e.g.:\n" + "\n".join(found[:5]))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
