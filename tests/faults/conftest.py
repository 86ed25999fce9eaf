"""Issue 10's faults, with real processes: each test starts `serve` and `worker` as the deployment
would, breaks something on purpose, asserts a bound, and writes its figures to
tests/artifacts/faults.json (printed too, with `pytest -s`). The README's "Faults survived" table
cites them. Most faults are PostgreSQL's scenarios (several processes on one database); on the
SQLite run they skip and say why, except the provider outages, which an embedded deployment meets
just the same."""

import json
import time

import pytest

from ..fakes.push_service import FakePushService
from ..fakes.server import Switchable
from ..fakes.smtp import SmtpServer
from ..fakes.twilio import FakeTwilio
from ..support import ARTIFACTS


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip(
            "a PostgreSQL scenario: several processes share one database (SQLite runs one process)"
        )


@pytest.fixture
def figures(request):
    """A dict the test fills with its figures; written to tests/artifacts/faults.json and printed."""
    found: dict = {}
    started = time.monotonic()
    yield found
    if not found:
        return
    found.setdefault("test_seconds", round(time.monotonic() - started, 1))
    key = request.node.name
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "faults.json"
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        stored = {}
    stored[key] = {**found, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path.write_text(json.dumps(stored, indent=2, sort_keys=True))
    print(f"\nFIGURES {key}: {json.dumps(found, sort_keys=True)}")


@pytest.fixture
def providers():
    """A real SMTP server, Twilio and a push service, each of which can be taken down and brought
    back: SMTP stops listening (connections refused), the HTTP ones answer 503."""
    twilio, push = FakeTwilio(), FakePushService()
    with (
        SmtpServer() as smtp,
        Switchable(twilio.app) as twilio_server,
        Switchable(push.app) as push_server,
    ):
        push.base_url = push_server.url
        yield {
            "smtp": smtp,
            "twilio": twilio,
            "twilio_server": twilio_server,
            "push": push,
            "push_server": push_server,
        }
