"""Request and response models of the signup API (STOQ / Restock Rocket `POST /intents.json`).

`IntentRequest` is the schema: a body that does not fit it is a 400. What it lets through may
still be impossible to honour (an invalid email, say); `intents.create` answers that with 200.
"""

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema

from .coerce import ID_MAX, shopify_id

MAX_QUANTITY = 1_000_000
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL


def _shopify_id(kind: str) -> tuple[Any, ...]:
    """Shopify's numeric ids, also as a digit string or a `gid://shopify/{kind}/N` string: the
    metadata of `Annotated[int, *_shopify_id(kind)]` (a type mypy can read)."""
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


def _optional_text(
    max_length: int,
    *,
    numbers: bool = False,
    description: str | None = None,
    format: str | None = None,
) -> tuple[Any, ...]:
    """A string (or, with `numbers`, an integer written as one); blank means absent: the metadata
    of `Annotated[str | None, *_optional_text(...)]`."""

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


def _whole_number(low: int, high: int, description: str) -> tuple[Any, ...]:
    """A JSON integer (`2.0` is one too) within bounds: the metadata of
    `Annotated[int, *_whole_number(...)]`."""

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


Quantity = Annotated[int, *_whole_number(1, MAX_QUANTITY, "How many the shopper wants")]
VariantCount = Annotated[int, *_whole_number(0, 100_000, "How many variants the product has")]
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


class PushKeys(BaseModel):
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)


class PushSubscriptionIn(BaseModel):
    """The browser's `PushSubscription.toJSON()`."""

    model_config = ConfigDict(extra="ignore")
    endpoint: str = Field(max_length=2048)
    keys: PushKeys
    expirationTime: int | float | None = None


class IntentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    shopify_variant_id: Annotated[int, *_shopify_id("ProductVariant")]
    shopify_product_id: Annotated[int, *_shopify_id("Product")]
    shopify_market_id: Annotated[int, *_shopify_id("Market")] | None = None
    channel: Literal["email", "sms", "push"]
    quantity: Quantity
    source: Literal["api"]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: Annotated[
        str | None,
        *_optional_text(
            64,
            description="The customer id an earlier answer gave to whoever created the customer; "
            "only with it are the customer's stored details updated",
        ),
    ] = None
    name: Annotated[str | None, *_optional_text(255)] = None
    email: Annotated[
        str | None,
        *_optional_text(
            320,
            format="email",
            description="Required for the email channel; an address that is not valid "
            "is answered 200 with an error",
        ),
    ] = None
    phone: Annotated[
        str | None,
        *_optional_text(
            32,
            numbers=True,
            description="With its country code, without '+'; "
            "or national form with country / country_code",
        ),
    ] = None
    push: Push = None
    country_code: Annotated[str | None, *_optional_text(8, numbers=True)] = None
    country: Country = None
    accepts_marketing: StrictBool = None
    locale: Annotated[
        str | None,
        *_optional_text(
            35,
            description="A BCP 47 tag; one the app has messages for (en, fr, de, with any "
            "region) is kept, any other means the default",
        ),
    ] = None
    shopify_market_id: Annotated[int, *_shopify_id("Market")] | None = None
    shopify_customer_id: Annotated[int, *_shopify_id("Customer")] | None = None


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    variant_count: VariantCount | None = None
    title: Annotated[str | None, *_optional_text(255)] = None
    variant_title: Annotated[str | None, *_optional_text(255)] = None
    vendor: Annotated[str | None, *_optional_text(255)] = None
    sku: Annotated[str | None, *_optional_text(255)] = None


class IntentRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    intent: IntentIn
    customer: CustomerIn
    product: ProductIn | None = None


class IntentPublic(BaseModel):
    """STOQ's intent object."""

    id: int
    type: str = "back_in_stock"
    channel: str
    contact: str | None
    email: str | None
    phone: str | None
    quantity: int
    source: str
    status: str
    optin_confirmed: bool
    accepts_marketing: bool
    blocked_at: datetime | None
    notified_at: datetime | None
    unsubscribed_at: datetime | None
    customer_unsubscribed_at: datetime | None
    sent_notifications_count: int
    notifications_count: int
    customer_id: str | None  # only to whoever created the customer or named it by id
    customer_name: str | None
    shop_id: int
    product_variant_id: int | None = None
    shopify_variant_id: int
    shopify_product_id: int
    shopify_market_id: int | None
    shopify_inventory_item_id: int | None
    product_title: str | None
    variant_title: str | None
    created_at: datetime
    updated_at: datetime


_PLAIN = {
    "missing": "is required",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
}


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per problem in plain words: `intent.quantity: must be between 1 and 1,000,000`."""
    lines = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        message = _PLAIN.get(err["type"]) or err["msg"].removeprefix("Value error, ").replace(
            "Input should be", "must be"
        )
        if err["type"] == "missing":
            lines.append(f"{where} is required")
        else:
            lines.append(f"{where}: {message}" if where else message)
    return lines
