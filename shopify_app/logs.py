"""Structured logs: one JSON object per line, with the shop when there is one.

Every line goes through `redact`, so an email address, a phone number, an access token or a
shopper link's token that slips into a message is masked before it is written; request paths are
redacted before they are logged (`redact_path`), so no record holds a link's token.
"""

import contextvars
import logging
import re
import sys
from datetime import UTC, datetime

import orjson
from starlette.requests import HTTPConnection

current_shop: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_shop", default=None
)

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PHONE = re.compile(r"\+\d{7,15}\b")
_TOKEN = re.compile(r"\b(shp(?:at|ua|ca|pa|ss)_)[A-Za-z0-9]+|\b(Bearer\s+)[A-Za-z0-9._-]+")
# PostgreSQL's DETAIL names the failing row's or key's values (hide_parameters cannot reach it);
# in a JSON line it runs to the next escaped newline or the end of the string.
_DB_DETAIL = re.compile(r'DETAIL:(?:(?!\\n)[^"\\]|\\[^n])*')
# A shopper link's path holds its token (the signed opt-in or unsubscribe capability).
_LINK_TOKEN = re.compile(r"(/(?:optin|unsubscribe)/)[^/?#\s\"'\\]+")
_SECRET_KEYS = re.compile(
    r"(?i)(?<![a-z_])(access_token|client_secret|password|auth_token|secret|code|hmac|signature)"
    r"(['\"]?\s*[=:]\s*['\"]?)[^'\"&\s,}]+"
)


def tag_shop(request: HTTPConnection, shop: str) -> None:
    """Name the shop this request is about, for the request's log line (middleware.RequestLog)."""
    request.scope.setdefault("state", {})["shop"] = shop


def redact_path(path: str) -> str:
    """A request path fit for a log: a shopper link's token is replaced (queries are never logged)."""
    return _LINK_TOKEN.sub(r"\1[redacted]", path)


def redact(text: str) -> str:
    text = redact_path(_DB_DETAIL.sub("DETAIL: [redacted]", text))
    text = _TOKEN.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)
    text = _SECRET_KEYS.sub(lambda m: m.group(1) + m.group(2) + "[redacted]", text)
    text = _EMAIL.sub(r"\1***@\2", text)
    return _PHONE.sub(lambda m: m.group(0)[:3] + "***" + m.group(0)[-2:], text)


def mask_email(email: str | None) -> str | None:
    return redact(email) if email else email


_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        shop = current_shop.get()
        if shop:
            entry["shop"] = shop
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(orjson.dumps(entry, default=str).decode())


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of the write (it may be replaced later)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure(level: str = "INFO") -> None:
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Our middleware writes one line per request (path only: queries carry codes and hmacs).
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request URL at INFO; our own lines say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
