"""Request and response models of the signup API (STOQ / Restock Rocket `POST /intents.json`).

`IntentRequest` is the schema: a body that does not fit it is a 400. What it lets through may
still be impossible to honour (an invalid email, say); `intents.create` answers that with 200.
Their field types and validators are in schema_fields.py.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .schema_fields import (
    Country,
    Push,
    Quantity,
    StrictBool,
    VariantCount,
    optional_text,
    shopify_id_of,
)


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
    shopify_variant_id: Annotated[int, *shopify_id_of("ProductVariant")]
    shopify_product_id: Annotated[int, *shopify_id_of("Product")]
    shopify_market_id: Annotated[int, *shopify_id_of("Market")] | None = None
    channel: Literal["email", "sms", "push"]
    quantity: Quantity
    source: Literal["api"]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: Annotated[
        str | None,
        *optional_text(
            64,
            description="The customer id an earlier answer gave to whoever created the customer; "
            "only with it are the customer's stored details updated",
        ),
    ] = None
    name: Annotated[str | None, *optional_text(255)] = None
    email: Annotated[
        str | None,
        *optional_text(
            320,
            format="email",
            description="Required for the email channel; an address that is not valid "
            "is answered 200 with an error",
        ),
    ] = None
    phone: Annotated[
        str | None,
        *optional_text(
            32,
            numbers=True,
            description="With its country code, without '+'; "
            "or national form with country / country_code",
        ),
    ] = None
    push: Push = None
    country_code: Annotated[str | None, *optional_text(8, numbers=True)] = None
    country: Country = None
    accepts_marketing: StrictBool = None
    locale: Annotated[
        str | None,
        *optional_text(
            35,
            description="A BCP 47 tag; one the app has messages for (en, fr, de, with any "
            "region) is kept, any other means the default",
        ),
    ] = None
    shopify_market_id: Annotated[int, *shopify_id_of("Market")] | None = None
    shopify_customer_id: Annotated[int, *shopify_id_of("Customer")] | None = None


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    variant_count: VariantCount | None = None
    title: Annotated[str | None, *optional_text(255)] = None
    variant_title: Annotated[str | None, *optional_text(255)] = None
    vendor: Annotated[str | None, *optional_text(255)] = None
    sku: Annotated[str | None, *optional_text(255)] = None


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
