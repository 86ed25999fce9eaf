"""Session tokens as App Bridge mints them (HS256 with the app secret), for the admin's tests, and
an admin page opened in Chromium with one, as the Shopify admin would open it."""

import json
import time
import uuid
from pathlib import Path

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


FAKE_APP_BRIDGE = (Path(__file__).parent / "fake_app_bridge.js").read_text(encoding="utf-8")
APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"


def open_page(
    browser, base: str, page_name: str = "", width: int = 1280, *, bridge: bool = False, **context
):
    """The admin page in Chromium as the Shopify admin opens it. Shopify's CDN is out of reach:
    without `bridge` App Bridge fails to load (the page's standalone fallback); with it, the fake
    App Bridge (fake_app_bridge.js) is served in its place."""
    page = browser.new_page(
        viewport={"width": width, "height": 900}, accept_downloads=True, **context
    )
    page.route("https://cdn.shopify.com/**", lambda route: route.abort())
    if bridge:
        page.route(
            APP_BRIDGE,
            lambda route: route.fulfill(content_type="text/javascript", body=FAKE_APP_BRIDGE),
        )
    page.set_default_timeout(15_000)  # ms, on a busy 2-core machine
    path = f"/app/{page_name}" if page_name else "/app"
    page.goto(
        f"{base}{path}?shop={SHOP}&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtbw&id_token={session_token(ttl=600)}"
    )
    return page


def answer_confirmation(page, *, accept: bool = True) -> str:
    """The page's own confirmation dialog (standalone: no App Bridge): its text, answered."""
    dialog = page.locator("dialog#confirm-dialog[open]")
    dialog.wait_for()
    text = dialog.inner_text()
    dialog.locator("button[value=ok]" if accept else "button[value=cancel]").click()
    return text
