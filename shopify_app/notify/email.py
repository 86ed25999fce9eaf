"""Email over SMTP (aiosmtplib) through a small pool of connections kept open and used
concurrently: opening a connection costs more than sending a message on it. In development
without SMTP settings, messages are written to .eml files instead."""

import asyncio
import binascii
import contextlib
import functools
import logging
import re
import secrets
import ssl
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path

import aiosmtplib
from anyio import to_thread
from email_validator import EmailNotValidError, validate_email

from ..logs import mask_email, redact
from .base import (
    OutgoingMessage,
    PermanentError,
    SendError,
    SlowDown,
    TransientError,
    outbox_file_name,
)

log = logging.getLogger(__name__)

_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 field name
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]")
_NOT_IN_ADDRESS = re.compile(r"[\s<>,;]")
DEV_SENDER = "Back in Stock <alerts@localhost>"
_MAX_LINE = 998


def _header(name: str, value: str) -> str:
    if value.isascii() and len(name) + 2 + len(value) <= _MAX_LINE:
        return f"{name}: {value}"
    charset = "us-ascii" if value.isascii() else "utf-8"
    return f"{name}: " + Header(value, charset, header_name=name).encode(linesep="\r\n")


@functools.lru_cache(maxsize=4096)
def _qp_line(line: str) -> str:
    """One line ending in a newline (b2a_qp treats whitespace before a line end and at the end of
    the data differently), quoted-printable, without that newline."""
    encoded = binascii.b2a_qp(line.encode() + b"\n", istext=True).decode("ascii")
    return encoded[:-1].replace("\n", "\r\n")


def _text_part(subtype: str, body: str) -> list[str]:
    # Line by line, as quoted-printable encodes (soft breaks and trailing spaces are per line), so
    # the lines every shopper's copy of an alert shares are encoded once: only the personal ones
    # (greeting, links) are new. The whole HTML body encoded per message was 6% of the worker's
    # CPU per email (bench/fanout.py --profile).
    *lines, last = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    encoded = "".join(_qp_line(line) + "\r\n" for line in lines) + binascii.b2a_qp(
        last.encode(), istext=True
    ).decode("ascii").replace("\n", "\r\n")
    return [
        f"Content-Type: text/{subtype}; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        encoded,
    ]


_BARE_LINE_END = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def _crlf(data: bytes) -> bytes:
    """Every line ending CRLF, as SMTP sends them (EmailWriter writes them so: counted, in C, and
    rewritten only if that ever changes)."""
    crlf = data.count(b"\r\n")
    if data.count(b"\n") != crlf or data.count(b"\r") != crlf:
        data = _BARE_LINE_END.sub(b"\r\n", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 4.5.2: a line that starts with a dot gets another, so none reads as the end."""
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\n.", b"\n..") if b"\n." in data else data


def _recipient(address: str) -> tuple[str, bool]:
    """The address as sent and whether it still needs SMTPUTF8. Addresses are stored in ASCII
    (contacts.normalize_email); one stored before that may hold an internationalised domain, sent in
    its IDNA 2008 punycode as the rule gives it (the standard library's IDNA 2003 codec turns
    "faß" into "fass", another domain), or a local part outside ASCII, which needs SMTPUTF8."""
    if "@" not in address or _NOT_IN_ADDRESS.search(address):
        raise PermanentError("not an email address")
    if address.isascii():
        return address, False
    try:
        found = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        raise PermanentError("email domain cannot be encoded") from None
    return f"{found.local_part}@{found.ascii_domain}", found.ascii_email is None


def from_parts(mail_from: str, sender_name: str | None) -> tuple[str, str]:
    """The From of an email sent with this MAIL_FROM and the shop's sender name, as (display
    name, address): the shop's name where it set one, else MAIL_FROM's own; the address is always
    MAIL_FROM's (the one SPF/DKIM vouch for). What is sent and what the settings preview shows."""
    name, address = parseaddr(mail_from)
    return sender_name or name, address


class EmailWriter:
    """OutgoingMessage to RFC 5322 bytes. Assembled by hand: building an EmailMessage and
    flattening it costs about 2 ms per message, far more than the SMTP exchange itself."""

    def __init__(self, sender: str):
        _, address = parseaddr(sender)
        if "@" not in address:
            raise ValueError(f"MAIL_FROM is not an email address: {sender!r}")
        self.envelope_from = address
        self.domain = address.rpartition("@")[2]
        self.mail_from = sender
        self._from_headers: dict[str | None, str] = {}
        self.from_header = self.from_named(None)

    def from_named(self, sender_name: str | None) -> str:
        # a shop's From is the same on every message: parsed and encoded once (parseaddr per
        # email was ~4% of the worker's CPU)
        header = self._from_headers.get(sender_name)
        if header is None:
            if len(self._from_headers) > 1024:
                self._from_headers.clear()
            header = _header(
                "From", formataddr(from_parts(self.mail_from, sender_name), charset="utf-8")
            )
            self._from_headers[sender_name] = header
        return header

    def write(self, message: OutgoingMessage) -> tuple[bytes, str, bool]:
        """(message bytes, envelope recipient, needs SMTPUTF8)."""
        recipient, utf8 = _recipient(message.to.strip())
        reference = _UNSAFE_ID.sub("", message.reference or "") or None
        lines = [
            self.from_named(message.sender_name) if message.sender_name else self.from_header,
            f"To: {recipient}",
            _header("Subject", " ".join((message.subject or "").split())),
            f"Date: {formatdate(usegmt=True)}",
            f"Message-ID: {make_msgid(reference, self.domain)}",
            "MIME-Version: 1.0",
        ]
        for name, value in message.headers.items():
            if not _HEADER_NAME.fullmatch(name) or "\r" in value or "\n" in value:
                raise PermanentError(f"invalid email header {name!r}")
            lines.append(_header(name, value))
        if message.html is None:
            lines += _text_part("plain", message.text)
        else:
            boundary = "=_" + secrets.token_hex(12)
            lines += [
                f'Content-Type: multipart/alternative; boundary="{boundary}"',
                "",
                f"--{boundary}",
                *_text_part("plain", message.text),
                f"--{boundary}",
                *_text_part("html", message.html),
                f"--{boundary}--",
                "",
            ]
        return "\r\n".join(lines).encode(), recipient, utf8


@dataclass
class _Slot:
    smtp: aiosmtplib.SMTP | None = None


class SmtpMailer:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        pool_size: int = 8,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ):
        self.host, self.port, self.timeout = host, port, timeout
        self.username, self.password, self.tls_context = username, password, tls_context
        self.use_tls = port == 465  # implicit TLS ("SMTPS"); STARTTLS does not apply there
        self.starttls = starttls and not self.use_tls
        self.writer = EmailWriter(sender)
        self._slots = [_Slot() for _ in range(pool_size)]
        self._pool: asyncio.Queue[_Slot] = asyncio.Queue()
        for slot in self._slots:
            self._pool.put_nowait(slot)
        self.connections_opened = 0

    async def send(self, message: OutgoingMessage) -> str | None:
        data, recipient, utf8 = self.writer.write(message)
        slot = await self._pool.get()
        healthy = False
        try:
            reply = await self._sendmail(slot, recipient, data, ["SMTPUTF8"] if utf8 else [])
            healthy = True
        except aiosmtplib.SMTPRecipientRefused as exc:
            healthy = True  # the envelope has been reset; the connection is fine
            raise _by_code(exc.code, exc.message) from None
        except aiosmtplib.SMTPDataError as exc:
            healthy = True
            raise _by_code(exc.code, exc.message) from None
        except aiosmtplib.SMTPResponseException as exc:
            # MAIL FROM refused, 421 closing, a failed login: the server or our account, not the recipient.
            raise _by_code(exc.code, exc.message, permanent=False) from None
        except aiosmtplib.SMTPNotSupported as exc:
            raise PermanentError(f"SMTP: {exc}") from None
        except ValueError:  # an address aiosmtplib will not put on a command line
            healthy = True
            raise PermanentError("SMTP: the address cannot be sent") from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise TransientError(
                f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {redact(str(exc))}"
            ) from None
        finally:
            if not healthy and slot.smtp is not None:
                slot.smtp.close()
                slot.smtp = None
            self._pool.put_nowait(slot)
        return reply

    async def _sendmail(self, slot: _Slot, recipient: str, data: bytes, options: list[str]) -> str:
        reused = slot.smtp is not None and slot.smtp.is_connected
        if not reused:
            if slot.smtp is not None:
                slot.smtp.close()
            slot.smtp = await self._connect()
        assert slot.smtp is not None  # reused: it is connected
        try:
            return await self._transaction(slot.smtp, recipient, data, options)
        except aiosmtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # The server dropped an idle connection (its timeout); one fresh connection, once.
            slot.smtp.close()
            slot.smtp = await self._connect()
            return await self._transaction(slot.smtp, recipient, data, options)

    async def _transaction(
        self, smtp: aiosmtplib.SMTP, recipient: str, data: bytes, options: list[str]
    ) -> str:
        """MAIL, RCPT, DATA and the message, on an open connection: the server's reply to the
        message. aiosmtplib's `sendmail` passes the whole message through regular expressions three
        times (line endings for SIZE, line endings again and dot-stuffing for DATA): 12% of the
        worker's time per email (bench/fanout.py --profile). Ours is written with CRLF line endings
        (checked, not rewritten) and is dot-stuffed only where a line starts with a dot."""
        utf8 = "SMTPUTF8" in options
        if utf8 and not smtp.supports_extension("smtputf8"):
            raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
        data = _crlf(data)
        if smtp.supports_extension("size"):  # RFC 1870: the octets as sent, before the dot-stuffing
            options = [f"SIZE={len(data)}", *options]
        encoding = "utf-8" if utf8 else "ascii"
        try:
            await smtp.mail(self.writer.envelope_from, options=options, encoding=encoding)
            await smtp.rcpt(recipient, encoding=encoding)
            reply = await smtp.execute_command(b"DATA")
            if reply.code != 354:
                raise aiosmtplib.SMTPDataError(reply.code, reply.message)
            smtp.protocol.write(_dot_stuffed(data) + b".\r\n")  # type: ignore[union-attr]
            reply = await smtp.protocol.read_response(timeout=self.timeout)  # type: ignore[union-attr]
            if reply.code != 250:
                raise aiosmtplib.SMTPDataError(reply.code, reply.message)
        except aiosmtplib.SMTPResponseException:
            with contextlib.suppress(ConnectionError, aiosmtplib.SMTPException):
                await smtp.rset()  # the envelope starts again for the next message
            raise
        return reply.message

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self.timeout,
            use_tls=self.use_tls,
            start_tls=self.starttls,
            tls_context=self.tls_context,
        )
        try:
            await smtp.connect()
            if smtp.is_ehlo_or_helo_needed:  # the extensions (SIZE, SMTPUTF8) before the first MAIL
                try:
                    await smtp.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await smtp.helo()
            if self.username:
                await smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        self.connections_opened += 1
        return smtp

    async def aclose(self) -> None:
        for slot in self._slots:
            if slot.smtp is not None and slot.smtp.is_connected:
                with contextlib.suppress(Exception):
                    await slot.smtp.quit(timeout=5)
                slot.smtp.close()
            slot.smtp = None


SLOW_DOWN_CODES = (
    421,
    451,
)  # "closing", "try again later": what servers and SES say to a sender too fast


def _by_code(code: int, text: str, *, permanent: bool = True) -> SendError:
    detail = f"SMTP {code} {redact(text)}"
    if code in SLOW_DOWN_CODES:
        return SlowDown(detail)
    return PermanentError(detail) if permanent and 500 <= code < 600 else TransientError(detail)


class FileMailer:
    """Development only: each message becomes an .eml file you can open in a mail client."""

    name = "email"

    def __init__(self, directory: Path, sender: str = DEV_SENDER):
        self.directory = Path(directory)
        self.writer = EmailWriter(sender)

    async def send(self, message: OutgoingMessage) -> str:
        data, _, _ = self.writer.write(message)
        path = self.directory / outbox_file_name(message.reference, ".eml")
        await to_thread.run_sync(self._write, path, data)
        log.info(
            "email written to %s (development, no SMTP_HOST)",
            path,
            extra={"to": mask_email(message.to)},
        )
        return str(path)

    def _write(self, path: Path, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    async def aclose(self) -> None:
        pass
