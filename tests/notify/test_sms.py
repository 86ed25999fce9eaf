"""TwilioSms against a fake of Twilio's Messages API served on 127.0.0.1."""

import asyncio
import logging
import re

import pytest

from shopify_app.http_client import SendingClient
from shopify_app.notify.base import OutgoingMessage, PermanentError, TransientError
from shopify_app.notify.sms import TwilioSms

from ..fakes.server import free_port
from ..fakes.twilio import FakeTwilio

NUMBER = "+14155552671"
SENDER = "+15005550006"


@pytest.fixture
def twilio():
    fake = FakeTwilio()
    with fake.running() as url:
        fake.url = url
        yield fake


def send(
    url: str,
    fake: FakeTwilio,
    to: str = NUMBER,
    text: str = "Linen Shirt is back: https://s.example/p",
    token: str | None = None,
) -> str | None:
    async def go():
        channel = TwilioSms(
            SendingClient(4),
            owns_http=True,
            base_url=url,
            account_sid=fake.account_sid,
            auth_token=token or fake.auth_token,
            sender=SENDER,
        )
        try:
            return await channel.send(
                OutgoingMessage(channel="sms", to=to, text=text, reference="n7")
            )
        finally:
            await channel.aclose()

    return asyncio.run(go())


def test_wire_format_auth_and_sid(twilio):
    sid = send(twilio.url + "/", twilio, text="Zoë, it's back ✓ & 100% cotton")
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    [request] = twilio.requests
    assert request["authorized"] and request["content_type"] == "application/x-www-form-urlencoded"
    assert request["form"] == {
        "To": NUMBER,
        "From": SENDER,
        "Body": "Zoë, it's back ✓ & 100% cotton",
    }
    assert twilio.messages == [{**request["form"], "sid": sid}]


def test_an_invalid_number_is_permanent_and_not_quoted_in_full(twilio):
    twilio.invalid_numbers.add("+15005550001")
    with pytest.raises(PermanentError, match="21211") as refused:
        send(twilio.url, twilio, to="+15005550001")
    assert "+15005550001" not in str(refused.value) and "+15***01" in str(refused.value)
    assert twilio.messages == []


def test_throttled_is_transient_with_retry_after(twilio):
    twilio.failures[:] = [429]
    with pytest.raises(TransientError, match="429") as throttled:
        send(twilio.url, twilio)
    assert throttled.value.retry_after == 7.0
    assert send(twilio.url, twilio).startswith("SM")  # the next one goes through


def test_server_errors_are_transient(twilio):
    twilio.failures[:] = [500, 503]
    for _ in range(2):
        with pytest.raises(TransientError) as failed:
            send(twilio.url, twilio)
        assert failed.value.retry_after is None
    assert twilio.messages == []


def test_wrong_credentials_are_transient(twilio):
    # Our account, not the shopper's number: the message can go once the token is fixed.
    with pytest.raises(TransientError, match="401 20003"):
        send(twilio.url, twilio, token="not-the-token")
    assert twilio.requests[0]["authorized"] is False


def test_unreachable_twilio_is_transient():
    with pytest.raises(TransientError, match="unreachable"):
        send(f"http://127.0.0.1:{free_port()}", FakeTwilio())


def test_neither_the_token_nor_the_full_number_is_logged(twilio, caplog):
    caplog.set_level(logging.DEBUG)
    twilio.invalid_numbers.add("+15005550001")
    send(twilio.url, twilio)
    with pytest.raises(PermanentError):
        send(twilio.url, twilio, to="+15005550001")
    twilio.failures[:] = [429]
    with pytest.raises(TransientError):
        send(twilio.url, twilio)
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert any(r.name == "shopify_app.notify.sms" for r in caplog.records)
    assert twilio.auth_token not in logged and NUMBER not in logged and "+15005550001" not in logged
