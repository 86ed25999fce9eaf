"""The field types of the public API's bodies (schemas.py): each a validator that answers in
plain words with the JSON schema it is published under (openapi.py), as `Annotated` metadata."""

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from .coerce import ID_MAX, shopify_id

MAX_QUANTITY = 1_000_000
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL


def shopify_id_of(kind: str) -> tuple[Any, ...]:
    """Shopify's numeric ids, also as a digit string or a `gid://shopify/{kind}/N` string: the
    metadata of `Annotated[int, *shopify_id_of(kind)]` (a type mypy can read)."""
    gid = re.compile(rf"gid://shopify/{kind}/([0-9]{{1,19}})")
    problem = f"must be a {kind} id: a positive integer, its digits as a string, or gid://shopify/{kind}/<id>"

    def check(value: Any) -> int:
        if isinstance(value, str):
            text = value.strip()
            match = gid.fullmatch(text)
            value = match.group(1) if match else text
        elif isinstance(value, float) and value.is_integer() and abs(value) < 2**64:
            value = int(value)
        found = shopify_id(value)
        if found is None:
            raise ValueError(problem)
        return found

    schema = {
        "anyOf": [
            {"type": "integer", "minimum": 1, "maximum": ID_MAX},
            {
                "type": "string",
                "pattern": rf"^([1-9][0-9]{{0,17}}|gid://shopify/{kind}/[1-9][0-9]{{0,17}})$",
            },
        ],
        "description": f"A Shopify {kind} id (1 to 2^63-1), as an integer, a digit string or a gid",
    }
    return BeforeValidator(check), WithJsonSchema(schema)


def optional_text(
    max_length: int,
    *,
    numbers: bool = False,
    description: str | None = None,
    format: str | None = None,
) -> tuple[Any, ...]:
    """A string (or, with `numbers`, an integer written as one); blank means absent: the metadata
    of `Annotated[str | None, *optional_text(...)]`."""

    def check(value: Any) -> str | None:
        if value is None:
            return None
        if (
            numbers
            and isinstance(value, float)
            and value.is_integer()
            and 0 <= value < 10**max_length
        ):
            value = int(value)
        if numbers and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError("must be a string" + (" or a number" if numbers else ""))
        if "\x00" in value:
            raise ValueError("must not contain the NUL character")
        value = value.strip()
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        return value or None

    text: dict[str, Any] = {"type": "string", "maxLength": max_length, "pattern": NO_NUL}
    if format:
        text["format"] = format
    number = {"type": "integer", "minimum": 0, "maximum": 10 ** min(max_length, 18) - 1}
    schema: dict[str, Any] = {
        "anyOf": [text, number, {"type": "null"}] if numbers else [text, {"type": "null"}]
    }
    if description:
        schema["description"] = description
    return BeforeValidator(check), WithJsonSchema(schema), Field(default=None)


def whole_number(low: int, high: int, description: str) -> tuple[Any, ...]:
    """A JSON integer (`2.0` is one too) within bounds: the metadata of
    `Annotated[int, *whole_number(...)]`."""

    def check(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high:,}")
        return value

    return (
        BeforeValidator(check),
        WithJsonSchema(
            {"type": "integer", "minimum": low, "maximum": high, "description": description}
        ),
    )


def _strict_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ValueError("must be true or false (a JSON boolean)")


def _country(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2}", value.strip()):
        raise ValueError("must be a two-letter country code such as 'in' or 'fr'")
    return value.strip().lower()


def _push(value: Any) -> Any:
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain the NUL character")
        return value.strip() or None
    raise ValueError("must be the browser's PushSubscription, as an object or as a JSON string")


Quantity = Annotated[int, *whole_number(1, MAX_QUANTITY, "How many the shopper wants")]
VariantCount = Annotated[int, *whole_number(0, 100_000, "How many variants the product has")]
StrictBool = Annotated[
    bool | None,
    BeforeValidator(_strict_bool),
    WithJsonSchema({"type": ["boolean", "null"]}),
    Field(default=None),
]
Country = Annotated[
    str | None,
    BeforeValidator(_country),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": "^(|[A-Za-z]{2})$"}, {"type": "null"}],
            "description": "Two-letter country code (ISO 3166-1), either case; improves phone validation",
        }
    ),
    Field(default=None),
]
Push = Annotated[
    str | dict | None,
    BeforeValidator(_push),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "endpoint": {"type": "string"},
                        "keys": {
                            "type": "object",
                            "properties": {
                                "p256dh": {"type": "string"},
                                "auth": {"type": "string"},
                            },
                        },
                    },
                },
                {"type": "string", "pattern": NO_NUL},
                {"type": "null"},
            ],
            "description": "The browser's PushSubscription (endpoint and keys), as an object or as a JSON string",
        }
    ),
    Field(default=None),
]
