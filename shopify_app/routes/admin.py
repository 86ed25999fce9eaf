"""The embedded admin's entry. For now: send a shop that has not installed yet (or whose token
is gone) into the install flow; otherwise a plain status page. The full admin comes later."""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..db import session_scope
from ..shops import find_installed
from ..verify import VerificationError, parse_query, sanitize_shop_domain, verify_query_hmac
from .responses import page, tag_shop


def _installed(engine, shop: str) -> bool:
    with session_scope(engine) as session:
        return find_installed(session, shop) is not None


def framed_by(shop: str, response: Response) -> Response:
    """Shopify's rule for embedded apps: only the shop's own admin may frame the app's pages."""
    response.headers["Content-Security-Policy"] = f"frame-ancestors https://{shop} https://admin.shopify.com"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response


async def home(request: Request) -> Response:
    shop = sanitize_shop_domain(request.query_params.get("shop"))
    if shop is None and request.app.state.settings.is_development:
        return RedirectResponse("/dev/storefront", status_code=302)  # a newcomer's first stop: the local storefront
    if shop is None:
        return page(200, "Back in stock alerts", "Open this app from your Shopify admin.")
    tag_shop(request, shop)
    return framed_by(shop, await _home(request, shop))


async def _home(request: Request, shop: str) -> Response:
    settings = request.app.state.settings
    try:
        verify_query_hmac(settings.SHOPIFY_API_SECRET, parse_query(request.scope["query_string"]), clock=request.app.state.clock)
    except VerificationError:
        return page(401, "Back in stock alerts", "This link is not signed by Shopify. Open the app from your Shopify admin.")
    if not await run_in_threadpool(_installed, request.app.state.engine, shop):
        return RedirectResponse(f"/auth?shop={shop}", status_code=302)
    return page(200, "Back in stock alerts", f"Installed on {shop}. Shoppers can now sign up for alerts.")


routes = [Route("/", home, methods=["GET"])]
