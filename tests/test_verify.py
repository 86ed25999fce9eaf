import time
from urllib.parse import parse_qsl

import jwt
import pytest
import shopify
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shopify_app import verify
from shopify_app.verify import VerificationError

from .support import cases

FIRST = "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com&timestamp=1337178173"
THEN = 1337178173 + 60


def items(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (FIRST, "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"),
        (
            FIRST + "&state=0.6784241404160823",
            "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf",
        ),
        (
            "code=a94a110d86d2452eb3e2af4cfb8a3828&shop=some-shop.myshopify.com&timestamp=1337178173",
            "2cb1a277650a659f1b11e92a4a64275b128e037f2c3390e3c8fd2d8721dac9e2",
        ),
    ],
)
def test_query_hmac_vectors(query, expected):
    assert verify.query_hmac("hush", items(query)) == expected
    verify.verify_query_hmac("hush", items(query + "&hmac=" + expected), clock=lambda: THEN)


def test_query_hmac_rejects_changed_timestamp_and_stale_requests():
    good = "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
    tampered = FIRST.replace("timestamp=1337178173", "timestamp=133717817")
    with pytest.raises(VerificationError):
        verify.verify_query_hmac("hush", items(tampered + "&hmac=" + good), clock=lambda: THEN)
    with pytest.raises(VerificationError, match="too old"):
        verify.verify_query_hmac("hush", items(FIRST + "&hmac=" + good), clock=time.time)
    with pytest.raises(VerificationError):
        verify.verify_query_hmac("other", items(FIRST + "&hmac=" + good), clock=lambda: THEN)
    with pytest.raises(VerificationError, match="missing"):
        verify.verify_query_hmac("hush", items(FIRST), clock=lambda: THEN)


@pytest.mark.parametrize(
    "params",
    [
        {"shop": "a.myshopify.com", "timestamp": "1", "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYQ"},
        {"shop": "a.myshopify.com", "weird": "x&y=z%25", "k=e%y": "v"},
        {"shop": "a.myshopify.com", "ids[]": ["1", "2"]},
    ],
)
def test_query_hmac_matches_shopify_api(params, monkeypatch):
    monkeypatch.setattr(shopify.Session, "secret", "hush")
    flat = [(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
    assert verify.query_hmac("hush", flat) == shopify.Session.calculate_hmac(params)


def test_repeated_plain_parameter_is_refused():
    with pytest.raises(VerificationError, match="repeated"):
        verify.query_hmac("hush", [("shop", "a.myshopify.com"), ("shop", "b.myshopify.com")])


PROXY = "extra=1&extra=2&shop=shop-name.myshopify.com&path_prefix=%2Fapps%2Fawesome_reviews&timestamp=1317327555"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "&logged_in_customer_id=1",
            "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb",
        ),
        (
            "&logged_in_customer_id=",
            "e072b6d7e6622d85912a5214b860d3100dc1e73d9bc29f43796ac8c9ff8093cb",
        ),
        ("", "a9718877bea71c2484f91608a7eaea1532bdf71f5c56825065fa4ccabe549ef3"),
    ],
)
def test_proxy_signature_vectors(extra, expected):
    query = PROXY + extra
    assert verify.proxy_signature("hush", items(query)) == expected
    shop = verify.verify_proxy_signature(
        "hush", query + "&signature=" + expected, clock=lambda: 1317327555
    )
    assert shop == "shop-name.myshopify.com"


def test_proxy_signature_refusals():
    sig = "a9718877bea71c2484f91608a7eaea1532bdf71f5c56825065fa4ccabe549ef3"
    with pytest.raises(VerificationError, match="too old"):
        verify.verify_proxy_signature(
            "hush", PROXY + "&signature=" + sig, clock=lambda: 1317327555 + 91
        )
    with pytest.raises(VerificationError, match="repeated"):
        verify.verify_proxy_signature(
            "hush", PROXY + f"&signature={sig}&signature={sig}", clock=lambda: 1317327555
        )
    with pytest.raises(VerificationError, match="repeated"):
        verify.verify_proxy_signature(
            "hush", PROXY + "&shop=x.myshopify.com&signature=" + sig, clock=lambda: 1317327555
        )
    with pytest.raises(VerificationError, match="does not match"):
        verify.verify_proxy_signature(
            "hush", PROXY + "&signature=" + sig.replace("a", "b"), clock=lambda: 1317327555
        )


def test_webhook_hmac_vector():
    assert (
        verify.webhook_hmac("secret", b"message") == "i19IcCmVwVmMVz2x4hhmqbgl1KeU0WnXBgoDYFeWNgs="
    )
    verify.verify_webhook_hmac("secret", b"message", "i19IcCmVwVmMVz2x4hhmqbgl1KeU0WnXBgoDYFeWNgs=")
    for header in (
        None,
        "",
        "i19IcCmVwVmMVz2x4hhmqbgl1KeU0WnXBgoDYFeWNgs",
        "8b5f48702995c1598c573db1e21866a9b825d4a794d169d7060a03605796360b",
    ):
        with pytest.raises(VerificationError):
            verify.verify_webhook_hmac("secret", b"message", header)
    with pytest.raises(VerificationError):
        verify.verify_webhook_hmac(
            "secret", b"message ", "i19IcCmVwVmMVz2x4hhmqbgl1KeU0WnXBgoDYFeWNgs="
        )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("my-shop.myshopify.com", "my-shop.myshopify.com"),
        ("  My-Shop.MyShopify.com ", "my-shop.myshopify.com"),
        ("evil.com", None),
        ("my-shop.myshopify.com.evil.com", None),
        ("-shop.myshopify.com", None),
        ("shop-.myshopify.com", None),
        ("my_shop.myshopify.com", None),
        ("https://my-shop.myshopify.com", None),
        ("my-shop.myshopify.com/admin", None),
        ("my-shop.myshopify.com\n", "my-shop.myshopify.com"),
        ("", None),
        (None, None),
    ],
)
def test_shop_domain(given, expected):
    assert verify.sanitize_shop_domain(given) == expected


def _session_token(**overrides) -> str:
    now = int(time.time())
    claims = {
        "iss": "https://demo.myshopify.com/admin",
        "dest": "https://demo.myshopify.com",
        "aud": "key",
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
        "iat": now - 5,
        "jti": "abc",
        "sid": "s",
    }
    claims.update(overrides)
    return jwt.encode(claims, "hush", algorithm="HS256")


def test_session_token():
    claims = verify.decode_session_token(_session_token(), api_key="key", secret="hush")
    assert claims["shop"] == "demo.myshopify.com"
    # App Bridge sends tokens whose nbf is a few seconds in the future.
    verify.decode_session_token(
        _session_token(nbf=int(time.time()) + 5), api_key="key", secret="hush"
    )
    for bad in (
        _session_token(aud="other"),
        _session_token(exp=int(time.time()) - 60),
        _session_token(dest="https://evil.com"),
        _session_token(iss="https://other.myshopify.com/admin"),
        jwt.encode({"dest": "https://demo.myshopify.com"}, "hush", algorithm="HS256"),
    ):
        with pytest.raises(VerificationError):
            verify.decode_session_token(bad, api_key="key", secret="hush")
    with pytest.raises(VerificationError):
        verify.decode_session_token(_session_token(), api_key="key", secret="wrong")


# -- arbitrary input: a VerificationError or a result, never anything else ----------------------


def _count(name: str) -> None:
    from .support import CASE_COUNTS

    counts = CASE_COUNTS.setdefault(f"parser {name}", {})
    counts["cases"] = counts.get("cases", 0) + 1


shop_like = st.from_regex(r"[a-zA-Z0-9-]{0,12}\.myshopify\.com", fullmatch=True)
awkward_text = st.text(max_size=40) | st.sampled_from(
    ["²", "٣", "9" * 30, "9" * 5000, "\x00", "１２３", "-1", "1e3"]  # noqa: RUF001 (fullwidth on purpose)
)


@settings(max_examples=cases(500), deadline=None)
@given(
    st.one_of(
        shop_like,
        shop_like.map(lambda s: f" {s.upper()}\n"),
        st.text(max_size=60),
        shop_like.map(lambda s: s.replace("k", "\u212a")),
        st.none(),
        st.integers(),
    )
)
def test_shop_domain_is_ascii_and_canonical_or_refused(value):
    _count("shop domain")
    found = verify.sanitize_shop_domain(value)
    if found is None:
        return
    assert (
        value.isascii() and verify.SHOP_DOMAIN.fullmatch(found) and found == value.strip().lower()
    )
    assert verify.sanitize_shop_domain(found) == found


@settings(max_examples=cases(500), deadline=None)
@given(
    timestamp=st.one_of(
        awkward_text, st.integers(-(2**70), 2**70).map(str), st.integers(0, 2 * THEN).map(str)
    ),
    extra=st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3),
)
@example(timestamp="²", extra={})
@example(timestamp="9" * 5000, extra={})
def test_signed_query_with_any_timestamp_verifies_or_is_refused(timestamp, extra):
    _count("signed query timestamp")
    pairs = [
        ("shop", "a.myshopify.com"),
        ("timestamp", timestamp),
        *((k, v) for k, v in extra.items() if k not in ("hmac", "signature", "shop", "timestamp")),
    ]
    signed = [*pairs, ("hmac", verify.query_hmac("hush", pairs))]
    try:
        verify.verify_query_hmac("hush", signed, clock=lambda: THEN)
    except VerificationError:
        return
    assert abs(int(timestamp) - THEN) <= verify.QUERY_HMAC_MAX_AGE and timestamp.isascii()


@settings(max_examples=cases(500), deadline=None)
@given(
    timestamp=awkward_text | st.integers(0, 2 * THEN).map(str),
    shop=shop_like | st.text(max_size=20),
)
@example(timestamp="²", shop="a.myshopify.com")
def test_proxy_signature_with_any_timestamp_verifies_or_is_refused(timestamp, shop):
    from urllib.parse import urlencode

    _count("proxy signature")
    pairs = [("shop", shop), ("timestamp", timestamp), ("path_prefix", "/apps/back-in-stock")]
    query = urlencode([*pairs, ("signature", verify.proxy_signature("hush", pairs))])
    try:
        found = verify.verify_proxy_signature("hush", query, clock=lambda: THEN)
    except VerificationError:
        return
    assert found == verify.sanitize_shop_domain(shop) and abs(int(timestamp) - THEN) <= 90
