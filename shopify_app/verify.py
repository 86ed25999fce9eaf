"""Every check of what Shopify sends, in one place (PLATFORM.md sections 1 to 3).

The algorithms are ShopifyAPI's (`shopify.Session.calculate_hmac`, `shopify.session_token`,
`shopify.utils.shop_url`); we carry them here because ShopifyAPI keeps the secret in a class-level
global and reads the clock itself. tests/test_verify.py checks both against Shopify's vectors and
against ShopifyAPI.
"""

import base64
import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

import jwt

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]\.myshopify\.com$")
# Seconds since the epoch in ASCII digits: str.isdigit() also accepts '²' (int() fails on it) and
# int() refuses more than 4,300 digits; twelve digits last until the year 33658.
TIMESTAMP = re.compile(r"[0-9]{1,12}")
QUERY_HMAC_MAX_AGE = 24 * 3600
SESSION_TOKEN_LEEWAY = 10
# A session token's claims and their JSON types (PLATFORM.md section 1; RFC 7519: a NumericDate is
# a JSON number, which may be fractional). PyJWT reads "exp": "1700000000" as a number, and does
# not look at iat (we skip its check), dest or sid at all.
SESSION_TOKEN_TIMES = ("exp", "nbf", "iat")
SESSION_TOKEN_TEXTS = ("iss", "dest", "sub", "jti", "sid")

Clock = Callable[[], float]


class VerificationError(Exception):
    """What Shopify sent (or claims to have sent) did not verify."""


def sanitize_shop_domain(value: str | None) -> str | None:
    """The shop's `x.myshopify.com` hostname, lower-cased, or None if it is not one."""
    if not value or not isinstance(value, str) or not value.isascii():
        return None  # lower() maps some non-ASCII letters to ASCII ones (the Kelvin sign to 'k')
    shop = value.strip().lower()
    return shop if len(shop) <= 255 and SHOP_DOMAIN.fullmatch(shop) else None


def _hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _query_hmac_message(items: Iterable[tuple[str, str]]) -> str:
    grouped: dict[str, list[str]] = {}
    for key, value in items:
        if key in ("hmac", "signature"):
            continue
        grouped.setdefault(key, []).append(value)
    pairs = []
    for key, values in grouped.items():
        if key.endswith("[]"):
            key, value = key.rstrip("[]"), json.dumps(values)
        elif len(values) > 1:
            raise VerificationError(f"parameter {key!r} is repeated")
        else:
            value = values[0]
        key = key.replace("%", "%25").replace("=", "%3D")
        value = value.replace("%", "%25")
        pairs.append(f"{key}={value}".replace("&", "%26"))
    return "&".join(sorted(pairs))


def query_hmac(secret: str, items: Iterable[tuple[str, str]]) -> str:
    """Lowercase hex HMAC-SHA256 of the decoded query parameters, ShopifyAPI's algorithm."""
    return _hmac_sha256(secret, _query_hmac_message(items).encode()).hex()


def verify_query_hmac(
    secret: str,
    items: list[tuple[str, str]],
    *,
    max_age: int = QUERY_HMAC_MAX_AGE,
    clock: Clock = time.time,
) -> None:
    """Raise VerificationError unless `hmac` signs the other parameters and the timestamp is fresh."""
    given = [v for k, v in items if k == "hmac"]
    if len(given) != 1:
        raise VerificationError("hmac is missing or repeated")
    if not hmac.compare_digest(query_hmac(secret, items).encode(), given[0].lower().encode()):
        raise VerificationError("hmac does not match")
    _check_timestamp(items, max_age, clock)


def _check_timestamp(items: list[tuple[str, str]], max_age: int, clock: Clock) -> None:
    stamps = [v for k, v in items if k == "timestamp"]
    if len(stamps) != 1 or not TIMESTAMP.fullmatch(stamps[0]):
        raise VerificationError("timestamp is missing or malformed")
    if abs(clock() - int(stamps[0])) > max_age:
        raise VerificationError("timestamp is too old or in the future")


def webhook_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(_hmac_sha256(secret, body)).decode()


def verify_webhook_hmac(secret: str, body: bytes, header: str | None) -> None:
    """`X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body."""
    if not header:
        raise VerificationError("X-Shopify-Hmac-Sha256 is missing")
    if not hmac.compare_digest(webhook_hmac(secret, body).encode(), header.strip().encode()):
        raise VerificationError("X-Shopify-Hmac-Sha256 does not match")


def proxy_signature(secret: str, items: Iterable[tuple[str, str]]) -> str:
    grouped: dict[str, list[str]] = {}
    for key, value in items:
        if key != "signature":
            grouped.setdefault(key, []).append(value)
    message = "".join(f"{k}={','.join(v)}" for k, v in sorted(grouped.items()))
    return _hmac_sha256(secret, message.encode()).hex()


def parse_query(query_string: str | bytes) -> list[tuple[str, str]]:
    """Decoded query pairs, blank values kept (they are signed too)."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    return parse_qsl(query_string, keep_blank_values=True)


def verify_proxy_signature(
    secret: str,
    query_string: str | bytes,
    *,
    max_age: int = 90,
    clock: Clock = time.time,
) -> str:
    """Check an app-proxy request's `signature`; return the signed shop domain. `signature`, `shop`
    and `timestamp` must be there once, `logged_in_customer_id` at most once."""
    items = parse_query(query_string)
    for once in ("signature", "shop", "timestamp"):
        if sum(1 for k, _ in items if k == once) != 1:
            raise VerificationError(f"{once} is missing or repeated")
    # Shopify adds it (empty for a visitor) after the shopper's own parameters: a second one is a
    # shopper's claim to be someone, signed along with the real one.
    if sum(1 for k, _ in items if k == "logged_in_customer_id") > 1:
        raise VerificationError("logged_in_customer_id is repeated")
    given = next(v for k, v in items if k == "signature")
    if not hmac.compare_digest(proxy_signature(secret, items).encode(), given.lower().encode()):
        raise VerificationError("signature does not match")
    _check_timestamp(items, max_age, clock)
    shop = sanitize_shop_domain(next(v for k, v in items if k == "shop"))
    if shop is None:
        raise VerificationError("shop is not a myshopify.com domain")
    return shop


def decode_session_token(
    token: str, *, api_key: str, secret: str, clock: Clock = time.time
) -> dict:
    """Verify an App Bridge session token (HS256 with the app secret); return its claims.

    The shop is `claims["dest"]`'s host, already checked to be a myshopify.com domain.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=api_key,
            leeway=SESSION_TOKEN_LEEWAY,
            options={"require": ["exp", "nbf", "iss", "dest", "aud", "sub"], "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        # Our words, not the library's: they reach the merchant's page and the API's answer.
        raise VerificationError(f"session token: {_why(exc)}") from None
    _check_claim_types(claims)
    if clock() > claims["exp"] + SESSION_TOKEN_LEEWAY:  # PyJWT used the real clock; honour ours too
        raise VerificationError("session token: expired")
    dest = claims["dest"].removeprefix("https://")
    iss = claims["iss"].removeprefix("https://").removesuffix("/admin")
    shop = sanitize_shop_domain(dest)
    if shop is None or iss.lower() != shop:
        raise VerificationError("session token: issuer and destination disagree")
    claims["shop"] = shop
    return claims


def _why(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "not valid yet (check this computer's clock)"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "made for another app"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"incomplete (no {exc.claim})"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "not signed by Shopify for this app"
    return "not a valid session token"


def _check_claim_types(claims: dict) -> None:
    for name in SESSION_TOKEN_TIMES:
        value = claims.get(name, 0)
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
        ):
            raise VerificationError(f"session token: {name} must be a number of seconds")
    for name in SESSION_TOKEN_TEXTS:
        if name in claims and not isinstance(claims[name], str):
            raise VerificationError(f"session token: {name} must be a string")
