"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives, and can refuse."""

import asyncio
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller

from ..support import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class SmtpRecorder:
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    refuse_next: int = 0                     # answer 451 to this many DATA commands
    refuse_all: bool = False                 # answer 451 until switched off
    reject: set[str] = field(default_factory=set)   # recipients answered 550
    stall: bool = False                      # hold every DATA until switched off (a hung server)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        while self.stall:
            await asyncio.sleep(0.02)
        if self.refuse_all or self.refuse_next > 0:
            self.refuse_next = max(0, self.refuse_next - 1)
            return "451 4.3.0 Try again later"
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"


class SmtpServer:
    def __init__(self):
        self.recorder = SmtpRecorder()
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
