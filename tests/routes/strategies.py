"""Hypothesis strategies for requests to the admin's JSON interface and the merchant API: every
route of a router, path parameters, query strings and bodies that are arbitrary JSON, JSON shaped
like the real bodies (known field names with arbitrary or awkward values), or not JSON at all."""

from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from starlette.routing import Route

from ..support import cases, json_values
from ..webhooks.strategies import AWKWARD, shaped

# Per route, on each backend: a few seconds each, the whole set well under a minute.
ROUTE_EXAMPLES = settings(
    max_examples=cases(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# The names the routes read, so generated requests reach their checks and not only "unknown field".
BODY_FIELDS = [
    "double_optin",
    "min_restock_quantity",
    "delivery_policy",
    "batch_multiplier",
    "batch_interval_seconds",
    "skip_over_quantity",
    "automatic_sending",
    "high_demand_threshold",
    "sender_name",
    "reply_to",
    "webhook_url",
    "rotate_webhook_secret",
    "sms_countries",
    "sms_quiet_hours",
    "reminders",
    "weekly_summary",
    "channels",
    "intent_ids",
    "all_held",
    "allow_resend",
    "id",
    "from_shopify_variant_id",
    "from_shopify_product_id",
    "to_shopify_variant_id",
    "to_shopify_product_id",
    "intent_type",
]
QUERY_NAMES = [
    "days",
    "page",
    "per_page",
    "status",
    "channel",
    "kind",
    "q",
    "shopify_variant_id",
    "shopify_product_id",
    "email",
    "phone",
    "start_date",
    "end_date",
    "notified",
]
# The values a sweep sends in every query parameter, one at a time (`AWKWARD_QUERY_VALUES`), and
# the generated queries draw from.
AWKWARD_QUERY_VALUES = [
    "",
    "\x00",
    "a\x00b",
    "-1",
    "9" * 30,
    "²",
    "٣",
    "%",
    "\\",
    "x" * 400,
    "9999-12-31",
    "0001-01-01T00:00:00+01:00",
]
QUERY_VALUES = [
    *AWKWARD_QUERY_VALUES,
    "0",
    "1",
    "2",
    "30",
    "500",
    "501",
    "9" * 19,
    "_",
    "pending",
    "held",
    "notified",
    "email",
    "sms",
    "push",
    "alert",
    "optin",
    "sent",
    "failed",
    "true",
    "false",
    "a@example.com",
    "+14155552671",
    "2026-11-22",
    "2026-11-22T12:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
]

# Mostly the names the routes read and values that broke something once; now and then anything.
known_names = st.sampled_from(QUERY_NAMES)
awkward_values = st.sampled_from(QUERY_VALUES)
texts = st.one_of(awkward_values, awkward_values, awkward_values, st.text(max_size=30))
# Ids of the seeded signups (1 to 4) often enough to reach the writes behind the checks.
seeded_ids = st.integers(min_value=1, max_value=4)
values = st.one_of(
    json_values(),
    st.sampled_from(AWKWARD),
    st.booleans(),
    seeded_ids,
    st.lists(seeded_ids | st.integers(min_value=-3, max_value=2**64), min_size=1, max_size=5),
    st.sampled_from(["all", "batches", "unsent", "sent", "a@example.com", "Shop", ""]),
)
shaped_bodies = st.dictionaries(
    st.sampled_from(BODY_FIELDS) | st.text(max_size=10), values, max_size=4
)
channel_bodies = st.fixed_dictionaries(
    {
        "channels": st.dictionaries(
            st.sampled_from(["email", "sms", "push"]) | st.text(max_size=5), values, max_size=3
        )
    }
)


def _encoded(value) -> bytes:
    import json

    return json.dumps(value).encode()  # NaN and Infinity come out as such: not JSON, a 400


# Bodies each route takes, as the webhooks' payloads are shaped: a few fields replaced or left out.
REAL_BODIES = [
    {"intent_ids": [1, 2], "allow_resend": False},
    {"id": 1, "allow_resend": True},
    {"all_held": True},
    {
        "from_shopify_variant_id": 1001,
        "from_shopify_product_id": 6001,
        "to_shopify_variant_id": 2,
        "to_shopify_product_id": 10,
        "intent_type": "all",
    },
    {"sender_name": "Linen & Co", "reply_to": "help@example.com"},
    {
        "min_restock_quantity": 2,
        "delivery_policy": "batches",
        "batch_multiplier": 1.5,
        "channels": {"sms": False},
    },
]
real_bodies = st.one_of(
    *(st.just(body) for body in REAL_BODIES), *(shaped(body) for body in REAL_BODIES)
)

bodies = st.one_of(
    real_bodies.map(_encoded),
    real_bodies.map(_encoded),
    shaped_bodies.map(_encoded),
    channel_bodies.map(_encoded),
    json_values().map(_encoded),
    st.binary(max_size=40),
    st.sampled_from([b"", b"null", b"[" * 3000 + b"]" * 3000, b"\xef\xbb\xbf{}"]),
)
queries = st.dictionaries(
    st.one_of(known_names, known_names, known_names, st.text(max_size=8)), texts, max_size=6
)
path_values = st.one_of(
    st.integers(min_value=0, max_value=4).map(str),
    st.sampled_from(["1.json", "9" * 25, "²", "-1"]),
    st.text(min_size=1, max_size=12),
).map(lambda v: quote(v, safe=""))


def routes_of(routes, prefix: str = "") -> list[tuple[str, str]]:
    """(method, path template) for every route under `routes`, HEAD left out."""
    found = []
    for route in routes:
        if isinstance(route, Route):
            found += [(m, prefix + route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
        else:
            found += routes_of(route.routes, prefix + route.path)
    return found


def paths(template: str) -> st.SearchStrategy[str]:
    """The path with each `{param}` or `{param:path}` replaced by a generated segment."""
    holes = template.count("{")

    def fill(segments: list[str]) -> str:
        path = template
        for segment in segments:
            start = path.index("{")
            path = path[:start] + segment + path[path.index("}", start) + 1 :]
        return path

    return st.lists(path_values, min_size=holes, max_size=holes).map(fill)
