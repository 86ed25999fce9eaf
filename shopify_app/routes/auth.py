"""`GET /auth` starts an install; `GET /auth/callback` finishes it (PLATFORM.md section 1; the steps
are oauth.py's)."""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import oauth
from ..logs import tag_shop
from ..verify import parse_query
from .responses import get_without_head


async def begin(request: Request) -> Response:
    state = request.app.state
    shop = oauth.install_shop(request.query_params.get("shop"))
    tag_shop(request, shop)
    url, cookie = await run_in_threadpool(
        oauth.begin_install,
        state.engine,
        state.settings,
        shop,
        parse_query(request.scope["query_string"]),
        state.clock,
    )
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        oauth.STATE_COOKIE,
        cookie,
        max_age=state.settings.OAUTH_STATE_TTL,
        path="/auth",
        httponly=True,
        secure=state.settings.app_is_https,
        samesite="lax",
    )
    return response


async def callback(request: Request) -> Response:
    state, settings = request.app.state, request.app.state.settings
    shop = oauth.install_shop(request.query_params.get("shop"))
    tag_shop(request, shop)
    await run_in_threadpool(
        oauth.finish_install,
        state.engine,
        settings,
        shop,
        parse_query(request.scope["query_string"]),
        request.cookies.get(oauth.STATE_COOKIE),
        state.clock,
    )
    response = RedirectResponse(
        settings.admin_url(shop, f"/admin/apps/{settings.SHOPIFY_API_KEY}"), status_code=302
    )
    response.delete_cookie(oauth.STATE_COOKIE, path="/auth")
    return response


routes = [
    get_without_head("/auth", begin),  # stores a state nonce
    get_without_head("/auth/callback", callback),  # spends the state and the code
]
