"""Request and response models of the signup API (STOQ / Restock Rocket `POST /intents.json`).

`IntentRequest` is the schema: a body that does not fit it is a 400. What it lets through may
still be impossible to honour (an invalid email, say); `intents.create` answers that with 200.
"""

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema

MAX_SHOPIFY_ID = 2**63 - 1
_GID = re.compile(r"^gid://shopify/(?:Product|ProductVariant|Market)/(\d+)$")


def _shopify_id(value: Any) -> Any:
    """Shopify's numeric ids, also as a digit string or a `gid://shopify/...` string."""
    if isinstance(value, bool):
        raise ValueError("must be an integer id")
    if isinstance(value, str):
        match = _GID.match(value.strip())
        digits = match.group(1) if match else value.strip()
        if not digits.isdigit():
            raise ValueError("must be an integer id")
        value = int(digits)
    if isinstance(value, int) and not 0 < value <= MAX_SHOPIFY_ID:
        raise ValueError("must be a positive 64-bit integer id")
    return value


def _text_or_number(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


ShopifyId = Annotated[
    int,
    BeforeValidator(_shopify_id),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": r"^(\d+|gid://shopify/\w+/\d+)$"}]}),
]
Text = Annotated[str | None, Field(default=None, max_length=255)]
Digits = Annotated[
    str | None,
    BeforeValidator(_text_or_number),
    Field(default=None, max_length=32),
    WithJsonSchema({"anyOf": [{"type": "string", "maxLength": 32}, {"type": "integer"}, {"type": "null"}]}),
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
    shopify_variant_id: ShopifyId
    shopify_product_id: ShopifyId
    shopify_market_id: ShopifyId | None = None
    channel: Literal["email", "sms", "push"]
    quantity: int = Field(ge=1, le=1_000_000, strict=True)
    source: Literal["api"]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(default=None, max_length=64)
    name: Text = None
    email: str | None = Field(default=None, max_length=320)
    phone: Digits = None
    push: str | dict | None = Field(
        default=None,
        json_schema_extra={"description": "The browser's PushSubscription, as an object or as a JSON string"},
    )
    country_code: Digits = None
    country: str | None = Field(default=None, max_length=2, min_length=2, pattern=r"^[A-Za-z]{2}$")
    accepts_marketing: bool | None = None
    locale: str | None = Field(default=None, max_length=35)
    shopify_market_id: ShopifyId | None = None
    shopify_customer_id: Digits = None


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    variant_count: int | None = Field(default=None, ge=0, le=100_000)
    title: Text = None
    variant_title: Text = None
    vendor: Text = None
    sku: Text = None


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
    customer_id: str
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


def describe_errors(exc: ValidationError) -> list[str]:
    """One human-readable line per problem: `intent.quantity: Input should be greater than ...`."""
    lines = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            lines.append(f"{where} is required")
        else:
            lines.append(f"{where}: {message}" if where else message)
    return lines
