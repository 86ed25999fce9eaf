"""Each channel against a local server speaking its protocol."""

import asyncio
import json

import httpx
import pytest

from shopify_app.config import Settings
from shopify_app.notify.base import OutgoingMessage, PermanentError, SubscriptionGone, TransientError
from shopify_app.notify.channels import build_channels
from shopify_app.notify.email import FileMailer, SmtpMailer
from shopify_app.notify.push import WebPush
from shopify_app.notify.sms import TwilioSms

from ..fakes.push_service import FakePushService, vapid_keys
from ..fakes.smtp import SmtpServer
from ..fakes.twilio import FakeTwilio
from ..support import serve_in_thread


def email(to="ann@example.com", n=0) -> OutgoingMessage:
    return OutgoingMessage(channel="email", to=to, subject=f"Back {n}", text=f"plain {n}", html=f"<p>html {n}</p>",
                           headers={"List-Unsubscribe": "<https://x.example/unsubscribe/t>",
                                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}, reference=f"n{n}")


def mailer(server: SmtpServer, pool_size=4) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", server.port, sender="Shop <alerts@shop.example>", starttls=False,
                      pool_size=pool_size)


def test_email_parts_and_headers():
    with SmtpServer() as server:
        async def go():
            m = mailer(server)
            queued = await m.send(email())
            await m.aclose()
            return queued

        assert "queued as Q1" in asyncio.run(go())
    [got] = server.recorder.received
    assert got.sender == "alerts@shop.example" and got.recipients == ["ann@example.com"]
    msg = got.message
    assert msg["Subject"] == "Back 0" and msg["To"] == "ann@example.com" and msg["Message-ID"]
    assert msg["List-Unsubscribe"].strip() == "<https://x.example/unsubscribe/t>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_body(("plain",)).get_content().strip() == "plain 0"
    assert msg.get_body(("html",)).get_content().strip() == "<p>html 0</p>"


def test_email_reuses_a_few_connections():
    with SmtpServer() as server:
        async def go():
            m = mailer(server, pool_size=4)
            await asyncio.gather(*(m.send(email(f"u{i}@example.com", i)) for i in range(60)))
            await m.aclose()
            return m.connections_opened

        assert asyncio.run(go()) <= 4
    assert len(server.recorder.received) == 60 and server.recorder.connections <= 4


def test_email_refusals():
    with SmtpServer() as server:
        server.recorder.refuse_next = 1
        server.recorder.reject.add("nobody@example.com")

        async def go():
            m = mailer(server)
            with pytest.raises(TransientError, match="451"):
                await m.send(email())
            with pytest.raises(PermanentError, match="550"):
                await m.send(email("nobody@example.com"))
            await m.send(email())  # the pool recovers
            await m.aclose()

        asyncio.run(go())
    assert len(server.recorder.received) == 1


def test_email_server_down_is_transient():
    async def go():
        m = SmtpMailer("127.0.0.1", 1, sender="a@b.example", starttls=False)
        with pytest.raises(TransientError):
            await m.send(email())

    asyncio.run(go())


def test_file_mailer(tmp_path):
    path = asyncio.run(FileMailer(tmp_path).send(email()))
    assert path.endswith("n0.eml") and b"Subject: Back 0" in open(path, "rb").read()


@pytest.fixture(scope="module")
def twilio():
    fake = FakeTwilio()
    with serve_in_thread(fake.app) as url:
        yield fake, url


def sms(twilio, to="+14155552671") -> str:
    fake, url = twilio

    async def go():
        async with httpx.AsyncClient() as http:
            channel = TwilioSms(http, base_url=url, account_sid=fake.account_sid, auth_token=fake.auth_token,
                                sender="+15005550006")
            return await channel.send(OutgoingMessage(channel="sms", to=to, text="Shirt is back"))

    return asyncio.run(go())


def test_sms_wire_format(twilio):
    fake, _ = twilio
    sid = sms(twilio)
    assert sid.startswith("SM") and fake.messages[-1] == {"To": "+14155552671", "From": "+15005550006",
                                                          "Body": "Shirt is back", "sid": sid}


def test_sms_failures(twilio):
    fake, _ = twilio
    fake.invalid_numbers.add("+15005550001")
    with pytest.raises(PermanentError, match="21211"):
        sms(twilio, "+15005550001")
    fake.failures[:] = [429]
    with pytest.raises(TransientError) as throttled:
        sms(twilio)
    assert throttled.value.retry_after == 7
    fake.failures[:] = [500]
    with pytest.raises(TransientError):
        sms(twilio)


@pytest.fixture(scope="module")
def push_service():
    fake = FakePushService()
    with serve_in_thread(fake.app) as url:
        fake.base_url = url
        yield fake


def push(push_service, browser_endpoint_sub, allowlist=frozenset({"127.0.0.1"}), keys=None):
    private, _ = keys or vapid_keys()

    async def go():
        async with httpx.AsyncClient() as http:
            channel = WebPush(http, private_key=private, subject="mailto:ops@shop.example", allowlist=allowlist)
            payload = {"title": "Back", "body": "Shirt", "url": "https://s.example/p", "image": None}
            return await channel.send(OutgoingMessage(channel="push", to=json.dumps(browser_endpoint_sub),
                                                      push_payload=payload))

    return asyncio.run(go())


def test_push_is_encrypted_and_signed(push_service):
    browser = push_service.new_browser()
    private, public = vapid_keys()
    location = push(push_service, browser.subscription, keys=(private, public))
    assert location.startswith(push_service.base_url + "/messages/")
    delivered = push_service.delivered[-1]
    assert delivered["payload"] == {"title": "Back", "body": "Shirt", "url": "https://s.example/p", "image": None}
    assert delivered["claims"]["aud"] == push_service.base_url and delivered["claims"]["sub"] == "mailto:ops@shop.example"
    assert delivered["vapid_public"] == public and delivered["headers"]["ttl"]


def test_push_gone_and_not_allowed(push_service):
    browser = push_service.new_browser()
    push_service.gone.add(browser.endpoint.rsplit("/", 1)[1])
    with pytest.raises(SubscriptionGone):
        push(push_service, browser.subscription)
    before = push_service.requests
    with pytest.raises(PermanentError, match="ALLOWLIST"):
        push(push_service, push_service.new_browser().subscription, allowlist=frozenset({"fcm.googleapis.com"}))
    assert push_service.requests == before  # never contacted


def test_build_channels_enables_what_is_configured(tmp_path):
    private, public = vapid_keys()

    async def names(**settings):
        return sorted(build_channels(Settings(**settings)))

    assert asyncio.run(names()) == []
    assert asyncio.run(names(APP_ENV="development")) == ["email"]
    full = dict(SMTP_HOST="smtp.example", MAIL_FROM="a@b.example", TWILIO_ACCOUNT_SID="AC1", TWILIO_AUTH_TOKEN="t",
                TWILIO_FROM_NUMBER="+15005550006", VAPID_PRIVATE_KEY=private, VAPID_PUBLIC_KEY=public,
                VAPID_SUBJECT="mailto:a@b.example")
    assert asyncio.run(names(**full)) == ["email", "push", "sms"]
    assert asyncio.run(names(**{**full, "TWILIO_AUTH_TOKEN": None})) == ["email", "push"]
