"""Hypothesis strategies for webhook payloads: arbitrary JSON, and payloads shaped like each topic's
real one (PLATFORM.md section 3) with a few fields replaced by arbitrary or known-awkward values."""

import json
import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ..support import CASE_COUNTS, cases, webhook_headers

SHOP = "demo-shop.myshopify.com"
# Per test: examples are posted through the app and the database on each backend.
EXAMPLES = settings(
    max_examples=cases(250),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
ARBITRARY_EXAMPLES = settings(
    max_examples=cases(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# Values that broke something once, or sit on a boundary of a column or a parser.
AWKWARD = [
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    -(2**63) - 1,
    -1,
    0,
    int("9" * 30),
    1e300,
    -1e300,
    0.5,
    5.0,
    "9" * 30,
    "9" * 5000,
    "²",
    "٣",
    "0",
    "-1",
    "",
    "\x00",
    "a\x00b",
    "x" * 10_000,
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "2026-11-22T12:00:00",
    "2026-11-22T12:00:00Z",
    "3026-11-22T12:00:00Z",
    "not a time",
    "gid://shopify/InventoryItem/1",
    "https://cdn.example/x.png",
    "a@example.com",
    "+14155552671",
    [],
    {},
    [1, 2],
    {"id": 1},
    True,
    False,
    None,
]

texts = st.text(max_size=40) | st.text(alphabet=st.sampled_from('a\x00é²٣ \n"\\'), max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
    | st.sampled_from(AWKWARD)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=16,
)


# Past a column's length (255, 32 for a price), NUL inside, and integers around 32 and 64 bits.
long_texts = st.builds(
    lambda n, pad, nul: pad * n + ("\x00" if nul else ""),
    st.integers(250, 300),
    st.sampled_from(["x", "é", "9"]),
    st.booleans(),
)
big_ints = st.integers(min_value=-(2**64) - 2, max_value=2**64 + 2) | st.integers(
    2**31 - 2, 2**31 + 2
)
replacements = st.sampled_from(AWKWARD) | long_texts | big_ints | json_values


def _replaced(real: dict, replace: dict, drop: list) -> dict:
    return {key: value for key, value in {**real, **replace}.items() if key not in drop}


def shaped(real: dict) -> st.SearchStrategy:
    """`real` with up to three fields replaced by awkward or arbitrary values, and maybe one left out."""
    keys = sorted(real)
    return st.builds(
        _replaced,
        st.just(real),
        st.dictionaries(st.sampled_from(keys), replacements, max_size=3),
        st.lists(st.sampled_from(keys), max_size=1),
    )


INVENTORY_LEVEL = {
    "inventory_item_id": 271878346596884015,
    "location_id": 53716844710,
    "available": 5,
    "updated_at": "2020-09-03T08:44:10-04:00",
    "admin_graphql_api_id": "gid://shopify/InventoryLevel/87892394150?inventory_item_id=271878346596884015",
}
VARIANT = {
    "id": 808950810,
    "product_id": 632910392,
    "title": "Pink",
    "sku": "IPOD2008PINK",
    "price": "199.00",
    "inventory_item_id": 808950810,
    "inventory_quantity": 10,
    "image_id": 562641783,
    "inventory_policy": "continue",
    "inventory_management": "shopify",
}
IMAGE = {"id": 562641783, "src": "https://cdn.shopify.com/ipod-nano-2.png"}
PRODUCT = {
    "id": 632910392,
    "title": "IPod Nano - 8GB",
    "handle": "ipod-nano",
    "vendor": "Apple",
    "image": IMAGE,
}
CUSTOMER = {"id": 207119551, "email": "john@example.com", "phone": "555-625-1199"}


def products() -> st.SearchStrategy:
    """A product whose images and variants are each shaped like the real ones (or replaced whole)."""
    return st.builds(
        lambda product, images, variants: {**product, "images": images, "variants": variants},
        shaped(PRODUCT),
        st.lists(shaped(IMAGE), max_size=3) | replacements,
        st.lists(shaped(VARIANT), min_size=1, max_size=4) | replacements,
    )


def compliance(topic: str) -> st.SearchStrategy:
    base = {"shop_id": 954889, "shop_domain": SHOP}
    if topic == "shop/redact":
        return shaped(base)
    extra = (
        {"orders_to_redact": [299938, 280263]}
        if topic == "customers/redact"
        else {"orders_requested": [299938], "data_request": {"id": 9999}}
    )
    return st.builds(
        lambda top, customer: {**top, "customer": customer},
        shaped({**base, **extra}),
        shaped(CUSTOMER) | replacements,
    )


UNINSTALLED = {
    "id": 690933842,
    "name": "Super Toys",
    "email": "super@supertoys.com",
    "domain": SHOP,
    "myshopify_domain": SHOP,
}


def post(client, topic: str, payload, *, body: bytes | None = None):
    """Post `payload` as a correctly signed delivery of `topic` with a fresh webhook and event id."""
    body = body if body is not None else json.dumps(payload).encode()
    headers = webhook_headers(
        body, topic, SHOP, webhook_id=uuid.uuid4().hex, event_id=uuid.uuid4().hex
    )
    return client.post(f"/webhooks/{topic}", content=body, headers=headers)


def tally(name: str, status: int) -> None:
    """Count a generated case and its answer (printed at the end of the run)."""
    counts = CASE_COUNTS.setdefault(name, {})
    counts["cases"] = counts.get("cases", 0) + 1
    counts[str(status)] = counts.get(str(status), 0) + 1
