"""Shopify's token endpoint (PLATFORM.md section 1): the four grants the app asks for (the install's
code, the admin's ID token, a non-expiring token's migration, a refresh), every one for an
expiring offline token, and what Shopify answered. Holding the shop's lock around a call is the
caller's part (shop_tokens.py)."""

from dataclasses import dataclass
from typing import Any

import httpx

from .config import Settings

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"


class TokenUnavailable(Exception):
    """Shopify's token endpoint failed for now (network, timeout, 5xx, 429, garbage): try later."""

    retry_after: float | None = None


class TokenRefused(Exception):
    """Shopify refused the grant for good (`invalid_grant`: revoked, expired, already used)."""


@dataclass(frozen=True)
class Grant:
    """What Shopify's token endpoint answered. `expires_in` None: a non-expiring token."""

    access_token: str
    scope: str
    expires_in: int | None = None
    refresh_token: str | None = None
    refresh_token_expires_in: int | None = None

    def __repr__(self) -> str:  # never print a token, not even in a traceback's locals
        return f"Grant(scope={self.scope!r}, expires_in={self.expires_in}, refresh={self.refresh_token is not None})"


def _credentials(settings: Settings) -> dict[str, str]:
    return {"client_id": settings.SHOPIFY_API_KEY, "client_secret": settings.SHOPIFY_API_SECRET}


def code_grant(settings: Settings, code: str) -> dict[str, str]:
    return {**_credentials(settings), "code": code, "expiring": "1"}


def id_token_grant(settings: Settings, session_token: str) -> dict[str, str]:
    return {
        **_credentials(settings),
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": session_token,
        "subject_token_type": ID_TOKEN,
        "requested_token_type": OFFLINE_TOKEN,
        "expiring": "1",
    }


def migration_grant(settings: Settings, offline_token: str) -> dict[str, str]:
    """A non-expiring offline token traded for an expiring one, without the merchant (Shopify's
    "Migrate to expiring offline access tokens"); a retry with the same token returns the same pair."""
    return {
        **_credentials(settings),
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": offline_token,
        "subject_token_type": OFFLINE_TOKEN,
        "requested_token_type": OFFLINE_TOKEN,
        "expiring": "1",
    }


def refresh_grant(settings: Settings, refresh_token: str) -> dict[str, str]:
    return {**_credentials(settings), "grant_type": "refresh_token", "refresh_token": refresh_token}


def _seconds(value: Any) -> int | None:
    return (
        int(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        else None
    )


def parse_grant(response: httpx.Response) -> Grant:
    """The grant in Shopify's answer, TokenRefused for a 4xx, TokenUnavailable for anything else."""
    if response.status_code == 429 or response.status_code >= 500:
        raise TokenUnavailable(f"token endpoint answered {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise TokenUnavailable("token endpoint answered something that is not JSON") from None
    if not isinstance(data, dict):
        raise TokenUnavailable("token endpoint answered something that is not an object")
    if response.status_code != 200:
        error = data.get("error")
        raise TokenRefused(
            f"token endpoint answered {response.status_code}"
            + (f" ({error})" if isinstance(error, str) else "")
        )
    token, scope = data.get("access_token"), data.get("scope")
    if not isinstance(token, str) or not token:
        raise TokenUnavailable("token endpoint gave no access_token")
    refresh = data.get("refresh_token")
    return Grant(
        access_token=token,
        scope=scope if isinstance(scope, str) else "",
        expires_in=_seconds(data.get("expires_in")),
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        refresh_token_expires_in=_seconds(data.get("refresh_token_expires_in")),
    )


def post(client: httpx.Client, settings: Settings, shop: str, body: dict[str, str]) -> Grant:
    try:
        response = client.post(settings.admin_url(shop, "/admin/oauth/access_token"), json=body)
    except httpx.HTTPError as exc:
        raise TokenUnavailable(f"token request failed: {type(exc).__name__}") from None
    return parse_grant(response)


def client(settings: Settings) -> httpx.Client:
    return httpx.Client(timeout=settings.SHOPIFY_HTTP_TIMEOUT, follow_redirects=False)
