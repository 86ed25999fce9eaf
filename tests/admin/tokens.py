"""Session tokens as App Bridge mints them (HS256 with the app secret), for the admin's tests."""

import json
import time
import uuid

import jwt

from ..support import API_KEY, API_SECRET

SHOP = "demo-shop.myshopify.com"
OTHER = "other-shop.myshopify.com"


def session_token(
    shop: str = SHOP,
    *,
    sub: str = "42",
    now: float | None = None,
    ttl: int = 60,
    secret: str = API_SECRET,
    aud: str = API_KEY,
    **extra,
) -> str:
    now = time.time() if now is None else now
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": aud,
        "sub": sub,
        "exp": int(now + ttl),
        "nbf": int(now - 1),
        "iat": int(now),
        "jti": uuid.uuid4().hex,
        "sid": uuid.uuid4().hex,
        **extra,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer(shop: str = SHOP, **kwargs) -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token(shop, **kwargs)}"}


def signed_claims(claims: object, secret: str = API_SECRET) -> str:
    """Any JSON signed as a session token would be: PyJWT's encode refuses some wrong claim types
    (a non-string `iss`), which a verifier must still survive."""
    return jwt.api_jws.encode(json.dumps(claims).encode(), secret, algorithm="HS256")
