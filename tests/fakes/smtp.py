"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives and can refuse:
451 for the next N messages or until switched off, 550 for chosen recipients. Optionally
STARTTLS with a throw-away certificate and AUTH for one user."""

import asyncio
import datetime
import ipaddress
import ssl
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..support import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes = b""
    tls: bool = False
    user: str | None = None
    at: float = field(default_factory=time.monotonic)  # when it was accepted
    mail_options: list[str] = field(default_factory=list)  # MAIL FROM's parameters (SIZE=...)


@dataclass
class SmtpRecorder:
    received: list[Received] = field(default_factory=list)
    connections: int = 0  # SMTP connections accepted
    refuse_next: int = 0  # answer 451 to this many DATA commands
    refuse_all: bool = False  # answer 451 until switched off
    refuse_code: int = 451  # what refuse_next / refuse_all answer: 451, or 421 (closing)
    reject: set[str] = field(default_factory=set)  # recipients answered 550
    stall: bool = False  # hold every DATA until switched off (a hung server)
    stalled: int = 0  # DATA commands being held now
    delay: float = 0.0  # seconds each DATA takes (a server under load)
    keep: bool = True  # False: count per recipient only (100,000 messages need no parsing)
    counts: Counter = field(default_factory=Counter)  # messages accepted per recipient

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return f"550 5.1.1 <{address}>: Recipient address rejected: No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.stall:
            self.stalled += 1
            try:
                while self.stall:
                    await asyncio.sleep(0.02)
            finally:
                self.stalled -= 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refuse_all or self.refuse_next > 0:
            self.refuse_next = max(0, self.refuse_next - 1)
            return (
                "421 4.7.0 Too many messages, slow down"
                if self.refuse_code == 421
                else "451 4.3.0 Try again later"
            )
        self.counts.update(envelope.rcpt_tos)
        if not self.keep:
            return "250 2.0.0 Ok: queued"
        raw = envelope.original_content or envelope.content
        user = (
            session.auth_data.login.decode()
            if isinstance(session.auth_data, LoginPassword)
            else None
        )
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message_from_bytes(raw, policy=default),
                raw,
                tls=session.ssl is not None,
                user=user,
                mail_options=list(envelope.mail_options),
            )
        )
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"


class _Controller(Controller):
    sessions: list[SMTP]

    def factory(self) -> SMTP:
        self.handler.connections += 1
        server = super().factory()
        self.sessions.append(server)
        return server


class SmtpServer:
    """`with SmtpServer() as smtp:` serves on smtp.port; smtp.recorder holds what arrived."""

    def __init__(self, *, starttls: bool = False, users: dict[str, str] | None = None):
        self.recorder = SmtpRecorder()
        self.port = free_port()
        self.users = users or {}
        self.certificate: bytes | None = None
        kwargs: dict = {}
        if starttls:
            kwargs.update(tls_context=self._server_tls(), require_starttls=True)
        if self.users:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        self.controller = _Controller(self.recorder, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> "SmtpServer":
        self.controller.sessions = []
        self.controller.start()
        self.recorder.connections = 0  # start() opens one probe connection of its own
        self.controller.sessions.clear()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def stop_listening(self) -> None:
        """An outage: the listener closes and open connections drop (clients get connection refused)."""
        self.drop_connections()
        self.controller.stop()

    def listen_again(self) -> None:
        """Back on the same port, after stop_listening."""
        self.controller.loop = asyncio.new_event_loop()  # stop() closed the old one
        self.controller.sessions = []
        self.controller.start()

    def drop_connections(self) -> None:
        """Close every open connection from the server side, as an idle timeout would."""
        for session in self.controller.sessions:
            if session.transport is not None:
                self.controller.loop.call_soon_threadsafe(session.transport.close)

    def client_tls_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's throw-away certificate."""
        return ssl.create_default_context(cadata=self.certificate.decode())

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.users.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def _server_tls(self) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256())
        )
        self.certificate = cert.public_bytes(serialization.Encoding.PEM)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory() as folder:  # load_cert_chain reads only files
            (Path(folder) / "cert.pem").write_bytes(self.certificate)
            (Path(folder) / "key.pem").write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            context.load_cert_chain(Path(folder) / "cert.pem", Path(folder) / "key.pem")
        return context
