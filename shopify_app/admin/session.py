"""Who is asking: a Shopify session token (App Bridge; PLATFORM.md section 1), from the `id_token`
query parameter on a page load or `Authorization: Bearer` on a JSON call. The shop is the token's
`dest`, never a `shop` parameter; a `shop` parameter naming another shop is refused."""

from dataclasses import dataclass

from sqlalchemy import select
from starlette.requests import Request

from ..models import Shop
from ..routes.responses import ApiError, tag_shop
from ..shops import INSTALLED
from ..verify import VerificationError, decode_session_token, sanitize_shop_domain

shops = Shop.__table__


class NotInstalled(Exception):
    """A valid token for a shop that has not installed the app (or uninstalled it)."""

    def __init__(self, shop: str) -> None:
        super().__init__(shop)
        self.shop = shop


@dataclass(frozen=True)
class AdminSession:
    shop_id: int
    shop: str
    user: str | None     # the token's `sub`: the Shopify staff member
    token: str


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def verify(request: Request, token: str | None) -> dict:
    """The token's claims, or ApiError 401 (missing, forged, expired, wrong audience, other shop)."""
    if not token:
        raise ApiError(401, "session token: missing; open the app from your Shopify admin")
    settings = request.app.state.settings
    try:
        claims = decode_session_token(token, api_key=settings.SHOPIFY_API_KEY, secret=settings.SHOPIFY_API_SECRET,
                                      clock=request.app.state.clock)
    except VerificationError as exc:
        raise ApiError(401, str(exc)) from None
    asked = request.query_params.get("shop")
    if asked is not None and sanitize_shop_domain(asked) != claims["shop"]:
        raise ApiError(401, "shop: the session token is for another shop")
    tag_shop(request, claims["shop"])
    return claims


def load(request: Request, claims: dict, token: str) -> AdminSession:
    """The installed shop the claims name (sync: call from a thread), else NotInstalled."""
    with request.app.state.engine.connect() as connection:
        row = connection.execute(select(shops.c.id).where(shops.c.domain == claims["shop"], INSTALLED)).first()
    if row is None:
        raise NotInstalled(claims["shop"])
    sub = claims.get("sub")
    return AdminSession(shop_id=row.id, shop=claims["shop"], user=str(sub)[:64] if sub is not None else None, token=token)


def api_session(request: Request) -> AdminSession:
    """For `/app/api/…` (sync endpoints): the Bearer token's installed shop, or 401."""
    token = bearer(request)
    claims = verify(request, token)
    try:
        return load(request, claims, token)
    except NotInstalled:
        raise ApiError(401, "shop: the app is not installed on this shop; open it from your Shopify admin to install it") from None
