"""Email through SMTP (aiosmtplib), over a small pool of connections kept open and used
concurrently: one connection per message costs more than the message. In development without
SMTP settings, messages are written to .eml files instead."""

import asyncio
import contextlib
import logging
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import aiosmtplib
from anyio import to_thread

from ..logs import mask_email
from .base import OutgoingMessage, PermanentError, TransientError

log = logging.getLogger(__name__)


def build_email(message: OutgoingMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to
    email["Subject"] = message.subject or ""
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = make_msgid(idstring=message.reference, domain=sender.rpartition("@")[2].strip(">") or None)
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email


class SmtpMailer:
    name = "email"

    def __init__(self, host: str, port: int, *, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = True, pool_size: int = 8, timeout: float = 30.0):
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls, self.timeout = username, password, starttls, timeout
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(pool_size)
        self.connections_opened = 0

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=self.timeout, start_tls=self.starttls)
        await smtp.connect()
        if self.username:
            await smtp.login(self.username, self.password or "")
        self.connections_opened += 1
        return smtp

    async def send(self, message: OutgoingMessage) -> str | None:
        email = build_email(message, self.sender)
        async with self._slots:
            smtp = self._idle.pop() if self._idle else None
            try:
                if smtp is None or not smtp.is_connected:
                    smtp = await self._connect()
                _, response = await smtp.send_message(email, sender=self.sender, recipients=[message.to])
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refusal = exc.recipients[0]
                self._keep(smtp)
                raise _by_code(refusal.code, f"{refusal.code} {refusal.message}") from None
            except aiosmtplib.SMTPResponseException as exc:
                await self._drop(smtp)
                raise _by_code(exc.code, f"{exc.code} {exc.message}") from None
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
                await self._drop(smtp)
                raise TransientError(f"SMTP: {type(exc).__name__}: {exc}") from None
            self._keep(smtp)
        log.debug("email accepted", extra={"to": mask_email(message.to)})
        return response

    def _keep(self, smtp: aiosmtplib.SMTP | None) -> None:
        if smtp is not None and smtp.is_connected:
            self._idle.append(smtp)

    async def _drop(self, smtp: aiosmtplib.SMTP | None) -> None:
        if smtp is not None:
            with contextlib.suppress(Exception):
                smtp.close()

    async def aclose(self) -> None:
        while self._idle:
            smtp = self._idle.pop()
            with contextlib.suppress(Exception):
                await smtp.quit()


def _by_code(code: int, text: str) -> Exception:
    return PermanentError(text) if 500 <= code < 600 else TransientError(text)


class FileMailer:
    """Development only: each message becomes an .eml file you can open in a mail client."""

    name = "email"

    def __init__(self, directory: Path, sender: str = "Back in Stock <alerts@localhost>"):
        self.directory, self.sender = Path(directory), sender

    async def send(self, message: OutgoingMessage) -> str:
        email = build_email(message, self.sender)
        path = self.directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{message.reference or 'message'}.eml"
        await to_thread.run_sync(self._write, path, email.as_bytes())
        log.info("email written to a file (development)", extra={"path": str(path), "to": mask_email(message.to)})
        return str(path)

    def _write(self, path: Path, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    async def aclose(self) -> None:
        pass
