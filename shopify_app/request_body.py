"""Reading a request's body: its size (refused past a limit without reading it all), its JSON."""

from typing import Any

import orjson
from starlette.requests import Request


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (BodyTooLarge) anything over `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    # ASCII digits only ('²'.isdigit() is true), and no int() of thousands of digits (it refuses them).
    if (
        declared
        and declared.isascii()
        and declared.isdigit()
        and (len(declared) > 18 or int(declared) > limit)
    ):
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


MAX_JSON_DEPTH = 1024  # orjson's own limit


class NotJson(ValueError):
    """A request body that is no JSON document we read. Its message completes "The body …" or
    "body: …": `must be JSON`, or `must be JSON nested at most 1,024 levels deep`."""


def json_body(raw: bytes) -> Any:
    """The JSON document a request sent: RFC 8259 strictly (orjson: no NaN, no byte order mark, no
    lone surrogates; integers past 64 bits read as floats), nested at most 1,024 levels. The
    standard library's json.loads recurses once per level and dies of RecursionError (a 500) a
    little under 1,000 levels."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("depth limit"):
            raise NotJson(f"must be JSON nested at most {MAX_JSON_DEPTH:,} levels deep") from None
        raise NotJson("must be JSON") from None
