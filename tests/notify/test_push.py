"""WebPush against a push service on 127.0.0.1 that checks the VAPID signature and decrypts."""

import asyncio
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from shopify_app.config import ConfigError, Settings
from shopify_app.http_client import SendingClient
from shopify_app.notify.base import (
    OutgoingMessage,
    PermanentError,
    SubscriptionGone,
    TransientError,
)
from shopify_app.notify.channels import build_channels
from shopify_app.notify.push import WebPush, audience

from ..fakes.push_service import FakePushService, unb64url, vapid_keys

LOOPBACK = frozenset({"127.0.0.1"})
PAYLOAD = {
    "title": "Back in stock",
    "body": "Linen Shirt (Green / M) ✓",
    "url": "https://s.example/p?variant=1",
    "image": None,
}


@pytest.fixture
def service():
    with FakePushService().running() as fake:
        yield fake


@pytest.fixture
def keys():
    return vapid_keys()


def push(keys, *subscriptions, allowlist=LOOPBACK, payload=PAYLOAD) -> list:
    """Send to each subscription in turn through one WebPush; each result or the exception raised."""

    async def go():
        channel = WebPush(
            SendingClient(4),
            owns_http=True,
            private_key=keys[0],
            public_key=keys[1],
            subject="mailto:ops@shop.example",
            allowlist=allowlist,
        )
        results = []
        for sub in subscriptions:
            to = sub if isinstance(sub, str) else json.dumps(sub)
            try:
                results.append(
                    await channel.send(
                        OutgoingMessage(
                            channel="push", to=to, text="fallback", push_payload=payload
                        )
                    )
                )
            except Exception as exc:
                results.append(exc)
        await channel.aclose()
        return results

    return asyncio.run(go())


def test_payload_is_encrypted_for_the_browser_and_signed(service, keys):
    browser = service.new_browser(application_server_key=keys[1])
    [location] = push(keys, browser.subscription)
    assert location.startswith(service.base_url + "/messages/")
    [got] = service.delivered
    assert got["payload"] == PAYLOAD  # decrypted with the browser's private key and auth secret
    headers = got["headers"]
    assert (
        headers["content-encoding"] == "aes128gcm"
        and int(headers["ttl"]) > 0
        and headers["urgency"] == "normal"
    )
    scheme, token = headers["authorization"].split(" ", 1)
    assert scheme == "vapid" and got["vapid_public"] == keys[1]
    # Verify once more here, independently of the fake, with the configured public key.
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(keys[1]))
    claims = jwt.decode(
        token.split(",")[0].removeprefix("t="),
        public,
        algorithms=["ES256"],
        audience=service.base_url,
    )
    assert claims["aud"] == service.base_url and claims["sub"] == "mailto:ops@shop.example"
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


def test_text_is_the_fallback_payload(service, keys):
    push(keys, service.new_browser().subscription, payload=None)
    assert service.delivered[0]["payload"] == {"body": "fallback"}


def test_the_jwt_is_signed_once_per_origin_and_reused(service, keys):
    browsers = [service.new_browser() for _ in range(3)]
    push(keys, *(b.subscription for b in browsers))
    assert len({d["headers"]["authorization"] for d in service.delivered}) == 1
    assert len({d["id"] for d in service.delivered}) == 3


def test_gone_subscription(service, keys):
    browser = service.new_browser()
    service.gone.add(browser.id)
    unknown = {**service.new_browser().subscription, "endpoint": f"{service.base_url}/push/unknown"}
    gone, never_existed = push(keys, browser.subscription, unknown)
    assert isinstance(gone, SubscriptionGone) and isinstance(never_existed, SubscriptionGone)
    assert service.delivered == []


def test_throttling_and_server_errors_are_transient(service, keys):
    service.failures[:] = [429, 500, 503]
    sub = service.new_browser().subscription
    throttled, failed, unavailable, ok = push(keys, sub, sub, sub, sub)
    assert isinstance(throttled, TransientError) and throttled.retry_after == 30.0
    assert isinstance(failed, TransientError) and isinstance(unavailable, TransientError)
    assert ok.startswith(service.base_url) and len(service.delivered) == 1


def test_a_refused_signature_is_permanent(service, keys):
    browser = service.new_browser(
        application_server_key=vapid_keys()[1]
    )  # subscribed with another app's key
    [refused] = push(keys, browser.subscription)
    assert isinstance(refused, PermanentError) and not isinstance(refused, SubscriptionGone)
    assert service.refused[-1]["status"] == 403


def test_endpoints_outside_the_allowlist_are_never_contacted(service, keys):
    sub = service.new_browser().subscription
    elsewhere = {**sub, "endpoint": sub["endpoint"].replace("127.0.0.1", "localhost")}
    results = push(keys, sub, elsewhere, allowlist=frozenset({"fcm.googleapis.com"}))
    results += push(keys, elsewhere)
    assert all(isinstance(r, PermanentError) and "ALLOWLIST" in str(r) for r in results)
    assert service.requests == 0


def test_subscriptions_that_cannot_be_used_are_permanent(service, keys):
    sub = service.new_browser().subscription
    bad_key = {**sub, "keys": {**sub["keys"], "p256dh": "AAAA"}}
    results = push(keys, "not json", json.dumps({"endpoint": sub["endpoint"]}), bad_key)
    results += push(keys, sub, payload={"body": "x" * 5000})
    assert all(isinstance(r, PermanentError) for r in results), results
    assert "too large" in str(results[-1]) and service.requests == 0


def test_audience_is_the_origin():
    assert audience("https://fcm.googleapis.com/fcm/send/abc") == "https://fcm.googleapis.com"
    assert audience("https://Push.Example:443/x?y") == "https://push.example"
    assert audience("http://127.0.0.1:8123/push/1") == "http://127.0.0.1:8123"


@pytest.mark.slow
def test_misconfigured_vapid_settings_stop_start_up(keys):
    other = vapid_keys()

    async def build(**settings):
        return build_channels(
            Settings(_env_file=None, **{"VAPID_SUBJECT": "mailto:ops@shop.example", **settings})
        )

    assert "push" in asyncio.run(build(VAPID_PRIVATE_KEY=keys[0], VAPID_PUBLIC_KEY=keys[1]))
    with pytest.raises(ConfigError, match="VAPID_PUBLIC_KEY"):
        asyncio.run(build(VAPID_PRIVATE_KEY=keys[0], VAPID_PUBLIC_KEY=other[1]))
    with pytest.raises(ConfigError, match="VAPID_SUBJECT"):
        asyncio.run(
            build(
                VAPID_PRIVATE_KEY=keys[0],
                VAPID_PUBLIC_KEY=keys[1],
                VAPID_SUBJECT="ops@shop.example",
            )
        )
