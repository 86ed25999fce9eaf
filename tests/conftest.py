"""Every test that touches the database runs once on SQLite and once on PostgreSQL
(`--db sqlite` or `--db postgresql` picks one). The schema comes from the Alembic migrations."""

import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlmodel import SQLModel
from starlette.testclient import TestClient

from shopify_app import logs, migrate, models  # noqa: F401  (models: every table in the metadata)
from shopify_app.app import create_app
from shopify_app.config import Settings
from shopify_app.db import make_engine

from .a11y import assert_accessible
from .fakes.admin_schema import validation_errors
from .fakes.shopify import FakeShopify
from .fakes.smtp import SmtpServer
from .support import (
    API_KEY,
    API_SECRET,
    CHROMIUM,
    CHROMIUM_ARGS,
    SECRET_KEY,
    install_shop,
    serve_in_thread,
    with_smtp,
)

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# Every table of the models, children first, emptied before each test: a new table is never
# left out (a hand-kept list once let one test's rows reach the next).
TABLES_CHILD_FIRST = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db", default="sqlite,postgresql", help="backends to run on: sqlite,postgresql"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests (any test using the `browser` fixture) and the fault tests are slow too, so
    `-m "not slow"` leaves them out without each module saying so."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
        if "faults" in item.path.parts:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.slow)


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
    # The fake validates every document against the Admin schema; the first validation (loading and
    # checking the schema) takes about two seconds. Done here, not in the first request, which would
    # outlast SHOPIFY_HTTP_TIMEOUT and be retried (the run's first test saw its calls twice).
    assert validation_errors("query { shop { name } }") == []
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


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright, once per module; the test skips if either
    is missing (.ci/run installs both)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does it)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield AxeChecked(browser)
        browser.close()


class AxeChecked:
    """The browser, whose pages run axe-core before every screenshot: each state a test saves to
    be looked at (every page, state and email, at each width) is also checked for serious and
    critical accessibility violations (tests/a11y.py)."""

    def __init__(self, browser):
        self._browser = browser

    def __getattr__(self, name):
        return getattr(self._browser, name)

    def new_page(self, *args, **kwargs):
        page = self._browser.new_page(*args, **kwargs)
        screenshot = page.screenshot

        def checked_screenshot(*s_args, **s_kwargs):
            assert_accessible(page)
            return screenshot(*s_args, **s_kwargs)

        page.screenshot = checked_screenshot
        return page


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 (tests/fakes/smtp.py), one per test module."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def mail_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    """`settings` sending email to `smtp`, emptied and accepting again."""
    smtp.recorder.received.clear()
    smtp.recorder.refuse_all, smtp.recorder.refuse_next = False, 0
    return with_smtp(settings, smtp.port)


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


# -- What a full run logged and answered must not carry secrets or personal data (issue 7 item 4,
# issue 10 item 3) ---------------------------------------------------------------------------------
# Every log line the app writes during the run is collected as it would be written (JSON, through
# the redacting formatter), and every body the test client receives; both are searched at the end,
# and a find fails the run.
_LOGGED: list[str] = []
_ANSWERED: list[tuple[str, str]] = []
_SECRET = (
    re.escape(API_SECRET)
    + "|"
    + re.escape(SECRET_KEY)
    + r"|shp(?:at|ua|ca|pa|ss|rt)_[A-Za-z0-9]{6,}"  # an access or refresh token, unmasked
    + r"|bis_[A-Za-z0-9_-]{20,}"  # a merchant API key
)
_IN_LOGS = re.compile(
    _SECRET
    + r"|[A-Za-z0-9._%+-]{2,}@[A-Za-z0-9-]+\.[A-Za-z]{2,}"  # an unmasked email (masked: a***@example.com)
    + r"|\+\d{7,15}\b"  # an unmasked E.164 phone
    + r"|\[parameters:|Secretname"  # bound SQL values; the privacy tests' shopper
)
_IN_ANSWERS = re.compile(_SECRET)
_SHOWN_ONCE = ("/app/api/api-key",)  # answers whose whole point is a new key


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("shopify_app.test"):  # test_logs writes contacts on purpose
            _LOGGED.append(self.format(record))


def pytest_configure(config: pytest.Config) -> None:
    handler = _Collect(level=logging.INFO)
    handler.setFormatter(logs.JsonFormatter())
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)

    import httpx
    from starlette import testclient

    class Tee(httpx.SyncByteStream):
        """The body as the test client reads it, kept for the end-of-run search."""

        def __init__(self, inner: httpx.SyncByteStream, path: str) -> None:
            self.inner, self.path, self.chunks = inner, path, []

        def __iter__(self):
            for chunk in self.inner:
                self.chunks.append(chunk)
                yield chunk

        def close(self) -> None:
            self.inner.close()
            _ANSWERED.append((self.path, b"".join(self.chunks).decode("utf-8", "replace")))

    handle = testclient._TestClientTransport.handle_request

    def recorded(self, request):
        response = handle(self, request)
        if not request.url.path.endswith(_SHOWN_ONCE):
            response.stream = Tee(response.stream, request.url.path)
        return response

    testclient._TestClientTransport.handle_request = recorded


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logged = [line for line in _LOGGED if _IN_LOGS.search(line)]
    answered = [f"{path}: {body[:300]}" for path, body in _ANSWERED if _IN_ANSWERS.search(body)]
    if logged:
        print(
            f"\n{len(logged)} log lines carry a secret or personal data, e.g.:\n"
            + "\n".join(logged[:5])
        )
    if answered:
        print(f"\n{len(answered)} answers carry a secret, e.g.:\n" + "\n".join(answered[:5]))
    if logged or answered:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
