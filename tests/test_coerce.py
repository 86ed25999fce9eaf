"""The field coercions behind every webhook topic (shopify_app/coerce.py), under arbitrary input:
each returns a value its column holds, or None; never raises."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shopify_app import coerce

from .support import CASE_COUNTS, cases
from .support import json_values as support_json_values

EXAMPLES = cases(500)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
json_values = support_json_values()


def _count(name: str) -> None:
    counts = CASE_COUNTS.setdefault(f"parser {name}", {})
    counts["cases"] = counts.get("cases", 0) + 1


@settings(max_examples=EXAMPLES, deadline=None)
@given(json_values | st.from_regex(r"[0-9]{1,25}", fullmatch=True))
@example(2**63 - 1)
@example(2**63)
@example(2**64 - 1)
@example("9" * 30)
@example("²")
@example(True)
@example(1e300)
def test_shopify_id(value):
    _count("webhook id")
    found = coerce.shopify_id(value)
    assert found is None or (type(found) is int and 1 <= found <= 2**63 - 1)
    if type(value) is int:
        assert found == (value if 1 <= value < 2**63 else None)
    if (
        isinstance(value, str)
        and value.isascii()
        and value.isdigit()
        and len(value) <= 19
        and 1 <= int(value) < 2**63
    ):
        assert found == int(value)


@settings(max_examples=EXAMPLES, deadline=None)
@given(json_values)
@example(2**31)
@example(-(2**31) - 1)
@example(2**63)
@example(True)
@example(1e300)
def test_int32(value):
    _count("webhook 32-bit int")
    found = coerce.int32(value)
    assert found is None or (type(found) is int and -(2**31) <= found < 2**31)
    if type(value) is int:
        assert found == max(-(2**31), min(2**31 - 1, value))
    else:
        assert found is None


@settings(max_examples=EXAMPLES, deadline=None)
@given(json_values | st.text(alphabet=st.characters(), max_size=300), st.integers(1, 300))
@example("\ud800x", 10)
@example("a\x00b", 10)
@example("x" * 10_000, 255)
def test_text(value, limit):
    _count("webhook text")
    found = coerce.text(value, limit)
    assert found is None or (
        isinstance(found, str) and 0 < len(found) <= limit and "\x00" not in found
    )
    if found is not None:
        found.encode("utf-8")  # no lone surrogates: PostgreSQL stores UTF-8
    if isinstance(value, str) and value.isascii() and "\x00" not in value and value:
        assert found == value[:limit]


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    json_values
    | st.decimals(allow_nan=True, allow_infinity=True).map(str)
    | st.from_regex(r"-?[0-9]{1,40}(\.[0-9]{1,10})?([eE][+-]?[0-9]{1,12})?", fullmatch=True)
)
@example("9" * 5000)
@example(10**5000 - 1)
@example("NaN")
@example("Infinity")
@example("199.00")
@example(199.5)
def test_price(value):
    _count("webhook price")
    found = coerce.price(value)
    assert found is None or (
        isinstance(found, str) and len(found) <= 32 and Decimal(found).is_finite()
    )
    if value == "199.00":
        assert found == "199.00"


@settings(max_examples=EXAMPLES, deadline=None)
@given(json_values | st.from_regex(r"https?://[a-z.]{1,20}/[\x00-\x7f]{0,30}", fullmatch=True))
def test_url(value):
    _count("webhook url")
    found = coerce.url(value)
    assert found is None or (
        found == value
        and found.startswith(("https://", "http://"))
        and len(found) <= 2048
        and "\x00" not in found
    )


zoned_times = st.builds(
    lambda moment, offset: moment.replace(tzinfo=timezone(timedelta(minutes=offset))),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(-14 * 60, 14 * 60),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    json_values
    | zoned_times.map(datetime.isoformat)
    | zoned_times.map(lambda t: t.isoformat()[:19])
    | st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{2,15}(Z|[+-][0-9]{2}:?[0-9]{2})?", fullmatch=True
    )
)
@example("9999-12-31T23:59:59-14:00")
@example("0001-01-01T00:00:00+14:00")
@example("2020-09-03T08:44:10-04:00")
@example("2026-11-22T10:00:00.000000Z")
@example("2026-11-22T12:00:00")
@example("x" * 5000)
def test_timestamp(value):
    _count("webhook timestamp")
    found = coerce.timestamp(value, now=NOW)
    assert found is None or (
        found.tzinfo is not None
        and found.utcoffset() == timedelta(0)
        and datetime(2000, 1, 1, tzinfo=UTC) <= found <= NOW + timedelta(days=1)
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(zoned_times)
def test_timestamp_reads_what_isoformat_writes(moment):
    _count("webhook timestamp round trip")
    found = coerce.timestamp(moment.isoformat(), now=NOW)
    in_range = datetime(2000, 1, 1, tzinfo=UTC) <= moment <= NOW + timedelta(days=1)
    assert found == (moment if in_range else None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-09-03T08:44:10-04:00", datetime(2020, 9, 3, 12, 44, 10, tzinfo=UTC)),
        ("2026-11-22T10:00:00.000000Z", datetime(2026, 11, 22, 10, tzinfo=UTC)),
        ("2026-11-22T12:00:00", None),  # no zone: which moment is it?
        ("2026-11-25T12:00:00Z", None),  # more than a day ahead: would make real updates look older
        ("1999-12-31T23:59:59Z", None),
        ("9999-12-31T23:59:59-14:00", None),  # past year 9999 in UTC
        ("0001-01-01T00:00:00+14:00", None),  # before year 1 in UTC
    ],
)
def test_timestamp_examples(value, expected):
    assert coerce.timestamp(value, now=NOW) == expected
