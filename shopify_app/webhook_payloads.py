"""Reading what a webhook delivered: its body as JSON (`parse_json`, tolerant of what orjson
refuses), and what to log when applying one fails (`failure`). Shared by the webhook endpoints
(webhooks/receive.py) and the worker applying recorded deliveries (inventory_deliveries.py)."""

import json
from typing import Any

import orjson


class NotJson(ValueError):
    pass


def _bounded_int(digits: str) -> int | float:
    # No int() of thousands of digits (slow, and refused past 4,300): beyond 40 digits a number is
    # out of every range we store anyway.
    return int(digits) if len(digits) <= 40 else float("-inf" if digits.startswith("-") else "inf")


def _no_constants(name: str):
    raise NotJson(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """The JSON document in `body` (NotJson if it is none). orjson first; the standard library for
    valid JSON orjson refuses (numbers beyond a double, nesting past 1,024 levels, lone surrogate
    escapes). A document too deeply nested even for that reads as None: nothing to apply."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(
            body.decode("utf-8"), parse_int=_bounded_int, parse_constant=_no_constants
        )
    except RecursionError:
        return None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise NotJson(str(exc)) from None


def failure(exc: BaseException) -> dict[str, str]:
    """What to log of a failure: its kind and SQLSTATE, never its message (it may quote a value)."""
    orig = getattr(exc, "orig", None)
    return {"error": type(exc).__name__, "sqlstate": getattr(orig, "sqlstate", None) or ""}
