"""Helpers for tests: run an ASGI app on a real port, sign like Shopify does, and the one place for
factories (an installed shop, a signup through the API, an install started and consented)."""

import base64
import contextlib
import hashlib
import hmac
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import uvicorn
from sqlalchemy import select

from shopify_app.config import Settings
from shopify_app.crypto import encrypt_token
from shopify_app.db import session_scope
from shopify_app.models import Intent, Shop, utcnow
from shopify_app.notify.render import unsubscribe_token

API_KEY = "test-api-key"
API_SECRET = (
    "hush-test-api-secret-7f3a9c51"  # distinctive: the run searches logs and answers for it
)
SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnop"
SHOP = "demo-shop.myshopify.com"
# Debian's Chromium (never a downloaded browser), flags for this machine's closed network; the
# `browser` fixture (conftest) launches it once per module. Screenshots go to ARTIFACTS.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app, port: int | None = None) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in a background thread; yield its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def signed_query(params: dict[str, str], secret: str = API_SECRET) -> str:
    """A query string signed the way Shopify signs admin requests and OAuth callbacks."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode({**params, "hmac": digest})


def webhook_headers(
    body: bytes,
    topic: str,
    shop: str,
    *,
    webhook_id: str,
    event_id: str | None = None,
    secret: str = API_SECRET,
) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "X-Shopify-Hmac-Sha256": digest,
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Triggered-At": "2026-11-22T10:00:00.000000Z",
        "Content-Type": "application/json",
    }
    if event_id:
        headers["X-Shopify-Event-Id"] = event_id
    return headers


# Generated-case counts per property test, printed at the end of the run (conftest).
CASE_COUNTS: dict[str, dict[str, int]] = {}
# How many generated cases (hypothesis, schemathesis) a property test runs: each names its full
# count, and TEST_CASES scales it. .ci/run sets TEST_CASES=1 (every case); the default, 0.1, is the
# fast loop's (a tenth, at least 10).
CASES_SCALE = float(os.environ.get("TEST_CASES", "0.1"))


def cases(full: int) -> int:
    return max(min(full, 10), round(full * CASES_SCALE))


# Schemathesis's coverage phase (every boundary case the schema defines, built while pytest
# collects: about a minute here) runs with every case; the fast loop keeps examples and fuzzing.
SCHEMATHESIS_PHASES = ["examples", "fuzzing"] + (["coverage"] if CASES_SCALE >= 1 else [])


def proxy_query(
    shop: str,
    *,
    logged_in_customer_id: str = "",
    timestamp: int | None = None,
    secret: str = API_SECRET,
    extra: dict[str, str] | None = None,
) -> str:
    """The query Shopify's app proxy appends to a forwarded request, signed as Shopify signs it."""
    params = {
        **(extra or {}),
        "shop": shop,
        "logged_in_customer_id": logged_in_customer_id,
        "path_prefix": "/apps/back-in-stock",
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
    }
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode(params)


def json_values():
    """Hypothesis: any JSON value, with the numbers and strings that broke parsers before (huge
    integers, superscript and Arabic-Indic digits, 5,000-digit strings, NUL)."""
    from hypothesis import strategies as st

    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=-(2**80), max_value=2**80)
        | st.floats()
        | st.text(max_size=40)
        | st.sampled_from(["²", "٣", "9" * 30, "9" * 5000, "\x00", "1\x00"]),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=12,
    )


# -- Real app processes (shared by the end-to-end kill tests and tests/faults) ------------------------


# -- Factories: shops and signups as the app would have stored them ------------------------------


def install_shop(
    engine,
    settings: Settings,
    domain: str = "demo-shop.myshopify.com",
    token: str | None = None,
    *,
    expiring: bool = True,
    refresh_token: str | None = None,
    **policy,
) -> int:
    """An installed shop, as the OAuth callback would have stored it: an expiring offline token
    (an hour left) with its refresh token, or with `expiring=False` a token from before 2027."""
    now = utcnow()
    with session_scope(engine) as session:
        shop = Shop(
            domain=domain,
            access_token_encrypted=encrypt_token(
                settings.SECRET_KEY, token or f"shpat_{uuid.uuid4().hex}"
            ),
            access_token_expires_at=now + timedelta(hours=1) if expiring else None,
            access_token_issued_at=now,
            refresh_token_encrypted=(
                encrypt_token(settings.SECRET_KEY, refresh_token or f"shprt_{uuid.uuid4().hex}")
                if expiring
                else None
            ),
            refresh_token_expires_at=now + timedelta(days=90) if expiring else None,
            scopes=settings.SHOPIFY_SCOPES,
            installed_at=now,
            profile_queued_at=now,  # as an install queues the shop-profile read
            **policy,
        )
        session.add(shop)
        session.flush()
        return shop.id


def api_signup(client, email, variant=1, locale=None):
    customer = {"email": email, **({"locale": locale} if locale else {})}
    response = client.post(
        "/api/v1/intents.json",
        headers={"X-Shopify-Shop-Domain": SHOP},
        json={
            "intent": {
                "shopify_variant_id": variant,
                "shopify_product_id": 2,
                "channel": "email",
                "quantity": 1,
                "source": "api",
            },
            "customer": customer,
            "product": {"title": f"Shirt {variant}"},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["intents"][0]["id"]


def unsubscribe_path(settings, intent_id: int) -> str:
    return f"/unsubscribe/{unsubscribe_token(settings.SECRET_KEY, intent_id)}"


def intent_statuses(engine) -> dict[int, str]:
    with session_scope(engine) as session:
        return {i.id: i.status for i in session.execute(select(Intent)).scalars()}


def start_install(client, shop: str = "new-shop.myshopify.com"):
    """The merchant opening /auth (test_auth's shop, not yet installed)."""
    response = client.get(f"/auth?shop={shop}", follow_redirects=False)
    assert response.status_code == 302
    return response


def consent(client, fake_shopify, install_response):
    """What the merchant's browser does: load the authorize page, follow Shopify's redirect back."""
    import httpx

    authorize = httpx.get(install_response.headers["location"], follow_redirects=False)
    assert authorize.status_code == 302
    callback = urlsplit(authorize.headers["location"])
    assert callback.netloc == "app.example.test" and callback.path == "/auth/callback"
    return f"{callback.path}?{callback.query}"


def with_smtp(settings: Settings, port: int) -> Settings:
    """`settings` sending email through the local SMTP server on `port` (tests/fakes/smtp.py)."""
    return settings.model_copy(
        update={
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": port,
            "SMTP_STARTTLS": False,
            "MAIL_FROM": "Back in Stock <alerts@app.example>",
        }
    )


def signup_body(channel: str = "email", **customer) -> dict:
    """A body for `POST /api/v1/intents.json`, STOQ's shape (an email signup unless told)."""
    return {
        "intent": {
            "shopify_variant_id": 111111111,
            "shopify_product_id": 222222222,
            "channel": channel,
            "quantity": 2,
            "source": "api",
        },
        "customer": customer or {"email": "Shopper@Example.com"},
        "product": {
            "variant_count": 3,
            "title": "Shirt",
            "variant_title": "Green",
            "vendor": "Acme",
            "sku": "SH-G",
        },
    }
