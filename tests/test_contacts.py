"""The parsers of what shoppers type, under arbitrary input (hypothesis): each returns a normal
form or raises its own readable error, never anything else, and the normal form is stable."""

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shopify_app.contacts import (
    ContactError,
    endpoint_allowed,
    normalize_email,
    normalize_locale,
    normalize_phone,
    parse_push_subscription,
)
from shopify_app.schemas import IntentRequest, describe_errors

from .support import CASE_COUNTS, cases
from .support import json_values as support_json_values

ALLOW = frozenset({"fcm.googleapis.com", "updates.push.services.mozilla.com", "127.0.0.1"})
P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"
EXAMPLES = cases(500)
json_values = support_json_values()


def _count(name: str) -> None:
    counts = CASE_COUNTS.setdefault(f"parser {name}", {})
    counts["cases"] = counts.get("cases", 0) + 1


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(st.emails(), st.text(max_size=80)))
def test_email(value):
    _count("email")
    try:
        email = normalize_email(value)
    except ContactError as exc:  # either outcome is right; a refusal must name its field
        assert str(exc).startswith("customer.email")  # noqa: PT017
        return
    assert email == email.lower() and normalize_email(email) == email


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.one_of(st.from_regex(r"\+?[0-9 ()-]{4,20}", fullmatch=True), st.text(max_size=40)),
    st.one_of(st.none(), st.text(max_size=6), st.from_regex(r"[0-9]{1,4}", fullmatch=True)),
    st.one_of(
        st.none(), st.sampled_from(["gb", "in", "us", "fr", "de", "zz"]), st.text(max_size=3)
    ),
)
def test_phone(value, country_code, country):
    _count("phone")
    try:
        phone = normalize_phone(value, country_code, country)
    except ContactError as exc:  # either outcome is right; a refusal must name its field
        assert str(exc).startswith("customer.phone")  # noqa: PT017
        return
    assert phone.startswith("+") and phone[1:].isascii() and phone[1:].isdigit()
    assert normalize_phone(phone) == phone


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.one_of(
        json_values,
        st.builds(
            lambda endpoint, p, a: {"endpoint": endpoint, "keys": {"p256dh": p, "auth": a}},
            st.one_of(
                st.text(max_size=60),
                st.sampled_from(
                    [
                        "https://fcm.googleapis.com/fcm/send/x",
                        "https://fcm.googleapis.com:8443/x",
                        "http://fcm.googleapis.com/x",
                        "https://evil.example/x",
                        "https://u:p@fcm.googleapis.com/x",
                        "https://fcm.googleapis.com:99999/x",
                        "http://127.0.0.1:9/x",
                    ]
                ),
            ),
            st.one_of(st.just(P256DH), st.text(max_size=90)),
            st.one_of(st.just(AUTH), st.text(max_size=30)),
        ),
        st.text(alphabet="[{", max_size=3000),
    )
)
@example("[" * 3000)
def test_push_subscription(value):
    _count("push subscription")
    for given_as in (value, json.dumps(value)):
        try:
            parsed = parse_push_subscription(given_as, ALLOW)
        except ContactError as exc:  # either outcome is right; a refusal must name its field
            assert str(exc).startswith("customer.push")  # noqa: PT017
            continue
        sub = json.loads(parsed)
        assert endpoint_allowed(sub["endpoint"], ALLOW) and set(sub) == {"endpoint", "keys"}


def test_push_endpoints_on_other_ports_are_refused():
    assert endpoint_allowed("https://fcm.googleapis.com/x", ALLOW)
    assert endpoint_allowed("https://fcm.googleapis.com:443/x", ALLOW)
    for endpoint in (
        "https://fcm.googleapis.com:8443/x",
        "https://fcm.googleapis.com:22/x",
        "https://fcm.googleapis.com:x/",
    ):
        assert not endpoint_allowed(endpoint, ALLOW), endpoint


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.from_regex(r"[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{1,8}){0,3}", fullmatch=True),
    )
)
def test_locale(value):
    _count("locale")
    assert normalize_locale(value, {"en", "fr", "de"}) in (None, "en", "fr", "de")


def test_locale_examples():
    known = {"en", "fr", "de"}
    assert normalize_locale("fr-CA", known) == "fr" and normalize_locale("DE_at", known) == "de"
    assert (
        normalize_locale("../../etc/passwd", known) is None
        and normalize_locale("pt-BR", known) is None
    )


@pytest.mark.slow
@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {
                "intent": st.dictionaries(
                    st.sampled_from(
                        [
                            "shopify_variant_id",
                            "shopify_product_id",
                            "shopify_market_id",
                            "channel",
                            "quantity",
                            "source",
                        ]
                    ),
                    json_values,
                ),
                "customer": st.dictionaries(
                    st.sampled_from(
                        [
                            "id",
                            "name",
                            "email",
                            "phone",
                            "push",
                            "country_code",
                            "country",
                            "accepts_marketing",
                            "locale",
                            "shopify_market_id",
                            "shopify_customer_id",
                        ]
                    ),
                    json_values | st.text(alphabet="²٣9\x00 ", max_size=5000),
                ),
                "product": json_values,
            }
        ),
    )
)
def test_the_signup_schema_speaks_plainly(value):
    """Whatever arrives: a request or a list of plain-word problems, never a Python internal."""
    _count("signup schema")
    try:
        IntentRequest.model_validate(value)
    except ValidationError as exc:
        lines = describe_errors(exc)
        assert lines and all(isinstance(line, str) for line in lines)
        text = " ".join(lines)
        for internal in ("int()", "set_int_max_str_digits", "Traceback", "literal for", "NoneType"):
            assert internal not in text, text
