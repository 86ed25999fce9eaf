"""SmtpMailer against a real SMTP server on 127.0.0.1; FileMailer; which channels are built."""

import asyncio
import binascii
import logging
import quopri
import re
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from shopify_app.config import ConfigError, Settings
from shopify_app.notify.base import OutgoingMessage, PermanentError, TransientError
from shopify_app.notify.channels import build_channels
from shopify_app.notify.email import FileMailer, SmtpMailer, _crlf, _dot_stuffed, _text_part

from ..fakes.push_service import vapid_keys
from ..fakes.server import free_port
from ..fakes.smtp import SmtpServer

UNSUBSCRIBE = {
    "List-Unsubscribe": "<https://app.example/unsubscribe/tok>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def email(to="ann@example.com", n=0, **fields) -> OutgoingMessage:
    values = {
        "subject": f"Linen Shirt is back {n}",
        "text": f"plain {n}\nhttps://shop.example/p",
        "html": f"<p>html {n}</p>",
        "headers": UNSUBSCRIBE,
        "reference": f"n{n}",
    }
    return OutgoingMessage(channel="email", to=to, **{**values, **fields})


def mailer(server: SmtpServer, **options) -> SmtpMailer:
    return SmtpMailer(
        "127.0.0.1",
        server.port,
        sender="Linen & Co <alerts@shop.example>",
        **{"starttls": False, "pool_size": 4, **options},
    )


def run(coro):
    return asyncio.run(coro)


async def send_all(m: SmtpMailer, *messages: OutgoingMessage) -> list[str | None]:
    try:
        return [await m.send(message) for message in messages]
    finally:
        await m.aclose()


def body(msg, kind: str) -> str:
    return msg.get_body((kind,)).get_content().replace("\r\n", "\n")


def test_a_multipart_message_with_our_headers():
    with SmtpServer() as server:
        [reply] = run(send_all(mailer(server), email()))
    assert "queued as Q1" in reply
    [got] = server.recorder.received
    assert got.sender == "alerts@shop.example" and got.recipients == ["ann@example.com"]
    msg = got.message
    assert msg["From"] == "Linen & Co <alerts@shop.example>" and msg["To"] == "ann@example.com"
    assert msg["Subject"] == "Linen Shirt is back 0" and msg["Date"].datetime is not None
    assert re.fullmatch(r"<[^@\s]+\.n0@shop\.example>", msg["Message-ID"])
    assert msg["List-Unsubscribe"] == "<https://app.example/unsubscribe/tok>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative" and msg["MIME-Version"] == "1.0"
    assert [part.get_content_type() for part in msg.iter_parts()] == ["text/plain", "text/html"]
    assert (
        body(msg, "plain") == "plain 0\nhttps://shop.example/p"
        and body(msg, "html") == "<p>html 0</p>"
    )
    assert b"\r\n" in got.raw and b"\n" not in got.raw.replace(b"\r\n", b"")


def test_the_shops_sender_name_and_reply_to_ride_on_our_address():
    message = email(
        sender_name="Zoë's Linen", headers={**UNSUBSCRIBE, "Reply-To": "help@linen.example"}
    )
    with SmtpServer() as server:
        run(send_all(mailer(server), message))
    [got] = server.recorder.received
    assert got.sender == "alerts@shop.example"  # the envelope stays ours (SPF, DKIM)
    assert got.message["From"].addresses[0].display_name == "Zoë's Linen"
    assert got.message["From"].addresses[0].addr_spec == "alerts@shop.example"
    assert got.message["Reply-To"] == "help@linen.example"


def test_unicode_long_lines_and_dots_survive_the_trip():
    text = (
        "Hallo Zoë,\n.\n..two dots\ntrailing spaces   \n"
        + "x" * 300
        + "\n=3D is not decoded twice\nend"
    )
    html = "<p>Wieder auf Lager: Leinenhemd – Grün ✓</p>\n" + "<b>" * 120
    subject = "Leinenhemd (Grün / M) ist wieder auf Lager – " + "sehr lang " * 12
    with SmtpServer() as server:
        run(
            send_all(
                SmtpMailer(
                    "127.0.0.1",
                    server.port,
                    sender="Boutique Café <alerts@shop.example>",
                    starttls=False,
                ),
                email(
                    "ann@bücher.example",
                    subject=subject + "\r\nBcc: x@evil.example",
                    text=text,
                    html=html,
                    headers={},
                ),
                email("zoë@example.com"),
            )
        )
    got, utf8 = server.recorder.received
    assert got.recipients == ["ann@xn--bcher-kva.example"]
    assert (
        utf8.recipients == ["zoë@example.com"] and utf8.message["To"] == "zoë@example.com"
    )  # SMTPUTF8
    msg = got.message
    assert (
        msg["Subject"] == " ".join((subject + " Bcc: x@evil.example").split())
        and msg["Bcc"] is None
    )
    assert msg["From"].addresses[0].display_name == "Boutique Café"
    assert body(msg, "plain") == text and body(msg, "html") == html
    assert max(len(line) for line in got.raw.split(b"\r\n")) <= 78 and got.raw.isascii()
    assert "List-Unsubscribe" not in msg


@pytest.mark.parametrize(
    "body",
    [
        "",
        "one line",
        "tab at the end\t",
        "space at the end \nand\t\nnext ",
        "\n\n\r\n\rblank lines\r\n",
        "x" * 300 + "\n" + "é" * 90 + " \n=3D\n.",
        "<p>Wieder auf Lager – Grün ✓</p>\n" * 3
        + "<a href='https://x.example/u?t=abc'>Abmelden</a>",
    ],
)
def test_quoted_printable_by_line_is_the_whole_body_encoded(body):
    # the parts encode line by line (shared lines once per process): the same bytes as the
    # standard library's encoding of the whole body, which decode back to the body
    data = body.replace("\r\n", "\n").replace("\r", "\n").encode()
    whole = binascii.b2a_qp(data, istext=True).decode("ascii").replace("\n", "\r\n")
    for _ in range(2):  # the second time from the cache
        encoded = _text_part("html", body)[3]
        assert encoded == whole
        assert quopri.decodestring(encoded.encode()).replace(b"\r\n", b"\n") == data


def test_the_message_goes_out_with_crlf_lines_dot_stuffed_and_its_size_declared():
    assert _crlf(b"a\r\nb\r\n") == b"a\r\nb\r\n"  # as EmailWriter writes it: unchanged
    assert _crlf(b"a\nb\rc\r\nd") == b"a\r\nb\r\nc\r\nd\r\n"
    assert _dot_stuffed(b".a\r\nb.\r\n.\r\n..c\r\n") == b"..a\r\nb.\r\n..\r\n...c\r\n"
    with SmtpServer() as server:
        run(send_all(mailer(server), email(text="one\n.\n.. two\nend", html=None)))
    [got] = server.recorder.received
    assert b"\r\n.. two\r\n" in got.raw  # a line that starts with dots, as written
    assert body(got.message, "plain") == "one\n.\n.. two\nend\n"  # none read as the end
    # RFC 1870: SIZE is the message's octets as sent (CRLF lines, before the dot-stuffing)
    assert f"SIZE={len(got.raw)}" in got.mail_options, (got.mail_options, len(got.raw))


def test_text_only_is_a_single_part():
    with SmtpServer() as server:
        run(send_all(mailer(server), email(html=None)))
    msg = server.recorder.received[0].message
    assert msg.get_content_type() == "text/plain" and not msg.is_multipart()
    assert msg.get_content().replace("\r\n", "\n").rstrip("\n") == "plain 0\nhttps://shop.example/p"


@pytest.mark.slow
def test_many_messages_share_a_few_connections():
    with SmtpServer() as server:

        async def go():
            m = mailer(server, pool_size=4)
            await asyncio.gather(*(m.send(email(f"u{i}@example.com", i)) for i in range(200)))
            for i in range(20):  # one after another: always the same open connection
                await m.send(email(f"s{i}@example.com", i))
            await m.aclose()
            return m.connections_opened

        opened = run(go())
    assert (
        len(server.recorder.received) == 220
        and 1 <= server.recorder.connections <= 4
        and opened <= 4
    )
    assert sorted(r.recipients[0] for r in server.recorder.received)[:2] == [
        "s0@example.com",
        "s10@example.com",
    ]


def test_451_is_transient_and_the_connection_stays_usable():
    with SmtpServer() as server:
        server.recorder.refuse_next = 2

        async def go():
            m = mailer(server, pool_size=1)
            for _ in range(2):
                with pytest.raises(TransientError, match="451"):
                    await m.send(email())
            server.recorder.refuse_all = True
            with pytest.raises(TransientError, match="451"):
                await m.send(email())
            server.recorder.refuse_all = False
            await send_all(m, email())

        run(go())
    assert len(server.recorder.received) == 1 and server.recorder.connections == 1


def test_550_for_the_recipient_is_permanent_and_masks_the_address():
    with SmtpServer() as server:
        server.recorder.reject.add("nobody@example.com")

        async def go():
            m = mailer(server, pool_size=1)
            with pytest.raises(PermanentError, match="550") as refused:
                await m.send(email("nobody@example.com"))
            await send_all(m, email())
            return refused.value

        refused = run(go())
    assert "nobody@example.com" not in str(refused) and refused.retry_after is None
    assert [r.recipients for r in server.recorder.received] == [["ann@example.com"]]
    assert server.recorder.connections == 1


def test_server_down_is_transient():
    with pytest.raises(TransientError, match=r"SMTP 127\.0\.0\.1"):
        run(
            send_all(
                SmtpMailer("127.0.0.1", free_port(), sender="a@b.example", starttls=False), email()
            )
        )


def test_a_hung_server_times_out_as_transient():
    with SmtpServer() as server:
        server.recorder.stall = True
        try:
            with pytest.raises(TransientError, match="Timeout"):
                run(send_all(mailer(server, timeout=0.3), email()))
        finally:
            server.recorder.stall = False


def test_connections_the_server_closed_are_reopened():
    with SmtpServer() as server:

        async def go():
            m = mailer(server, pool_size=1)
            await m.send(email(n=1))
            server.drop_connections()
            await asyncio.sleep(0.1)  # the client sees the close: a new connection before sending
            await m.send(email(n=2))
            server.drop_connections()
            time.sleep(
                0.1
            )  # blocks our loop, so the close is only found out mid-send: one retry on a new one
            await send_all(m, email(n=3))

        run(go())
    assert len(server.recorder.received) == 3 and server.recorder.connections == 3


def test_starttls_and_login():
    with SmtpServer(starttls=True, users={"mailer": "s3cret"}) as server:
        tls = server.client_tls_context()
        run(
            send_all(
                mailer(
                    server, starttls=True, username="mailer", password="s3cret", tls_context=tls
                ),
                email(),
            )
        )
        with pytest.raises(TransientError, match="535"):  # our credentials, not the recipient
            run(
                send_all(
                    mailer(
                        server, starttls=True, username="mailer", password="wrong", tls_context=tls
                    ),
                    email(),
                )
            )
    [got] = server.recorder.received
    assert got.tls and got.user == "mailer"


def test_a_header_with_a_line_break_is_refused_before_sending():
    with SmtpServer() as server, pytest.raises(PermanentError, match="List-Unsubscribe"):
        run(
            send_all(
                mailer(server),
                email(headers={"List-Unsubscribe": "<https://x>\r\nBcc: y@evil.example"}),
            )
        )
    assert server.recorder.received == [] and server.recorder.connections == 0


def test_file_mailer_writes_eml_files(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="shopify_app.notify.email")
    path = run(FileMailer(tmp_path / "outbox").send(email(reference="42/../x")))
    assert path.endswith("-42..x.eml") and str(tmp_path / "outbox") in path
    msg = message_from_bytes(Path(path).read_bytes(), policy=default)
    assert msg["Subject"] == "Linen Shirt is back 0" and body(msg, "html") == "<p>html 0</p>"
    [record] = caplog.records
    assert path in record.getMessage() and "ann@example.com" not in record.getMessage()


def channel_names(**settings) -> dict:
    return build_channels(Settings(_env_file=None, **settings))


@pytest.mark.slow
def test_build_channels_enables_exactly_what_is_configured(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    private, public = vapid_keys()
    smtp = {"SMTP_HOST": "smtp.example", "MAIL_FROM": "Shop <a@b.example>"}
    sms = {
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_FROM_NUMBER": "+15005550006",
    }
    push = {
        "VAPID_PRIVATE_KEY": private,
        "VAPID_PUBLIC_KEY": public,
        "VAPID_SUBJECT": "mailto:ops@b.example",
    }
    assert channel_names() == {}
    assert sorted(channel_names(**smtp, **sms, **push)) == ["email", "push", "sms"]
    assert sorted(channel_names(**sms)) == ["sms"]
    assert sorted(channel_names(**push)) == ["push"]
    assert (
        sorted(channel_names(**{**smtp, "MAIL_FROM": None}, **{**sms, "TWILIO_AUTH_TOKEN": None}))
        == []
    )
    assert sorted(channel_names(**{**push, "VAPID_SUBJECT": None})) == []
    assert isinstance(channel_names(**smtp)["email"], SmtpMailer)
    with pytest.raises(ConfigError, match="MAIL_FROM"):
        channel_names(**{**smtp, "MAIL_FROM": "alerts at shop"})


def test_development_without_smtp_writes_files(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    mailer_ = channel_names(APP_ENV="development", MAIL_FROM="Dev Shop <dev@shop.example>")["email"]
    assert isinstance(mailer_, FileMailer)
    path = run(mailer_.send(email()))
    assert path.startswith("outbox/") and (tmp_path / path).exists()
    assert b"From: Dev Shop <dev@shop.example>" in (tmp_path / path).read_bytes()
    assert channel_names(APP_ENV="production") == {}
