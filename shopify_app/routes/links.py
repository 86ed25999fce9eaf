"""Pages shoppers reach from messages; a GET or HEAD only asks (mail scanners follow links), a POST acts.

- `/unsubscribe/{token}`: stop this product, or everything from this shop at this address. A mail
  client's one-click unsubscribe (RFC 8058: a POST with `List-Unsubscribe=One-Click`) stops
  everything from the shop, whether multipart/form-data (as RFC 8058 prefers) or urlencoded.
- `/optin/{token}` (double opt-in): confirm the signup, so that it can be alerted. The link names
  one signup and when it was sent, and expires after `OPTIN_TOKEN_TTL`; it confirms every signup
  of the shop at the same address that was waiting for a confirmation then (an address gets one
  an hour, however many signups)."""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import shopper_links, shopper_pages
from ..request_body import BodyTooLarge, read_body


def _language(request: Request) -> str:
    return request.headers.get("accept-language", "")


async def unsubscribe_page(request: Request) -> Response:
    state = request.app.state
    signup = await run_in_threadpool(
        shopper_links.unsubscribe_signup,
        state.engine,
        state.settings,
        request.path_params["token"],
        _language(request),
    )
    _, t = shopper_pages.strings(signup.locale)
    product = signup.product or t["your_item"]
    if request.method != "POST":  # GET, and HEAD: a scanner's HEAD is answered as its GET
        return shopper_pages.render(
            "unsubscribe.html",
            signup.locale,
            title=t["unsubscribe_title"],
            shop=signup.shop,
            product=product,
            shop_url=signup.shop_url,
            product_url=signup.product_url,
        )
    try:
        form = shopper_links.unsubscribe_form(
            await read_body(request, 4096), request.headers.get("content-type", "")
        )
    except BodyTooLarge:
        form = {}
    everything = form.get("scope") == "shop" or form.get("List-Unsubscribe") == "One-Click"
    await run_in_threadpool(shopper_links.unsubscribe_now, state.engine, signup, everything)
    done = (
        t["unsubscribed_shop"].format(shop=signup.shop)
        if everything
        else t["unsubscribed_product"].format(product=product)
    )
    return shopper_pages.message(
        signup.locale,
        t["unsubscribed_title"],
        done,
        shop=signup.shop,
        note=t["unsubscribed_note"],
        shop_url=signup.shop_url,
        product_url=signup.product_url,
        product=product,
    )


async def optin_page(request: Request) -> Response:
    state = request.app.state
    signup, link = await run_in_threadpool(
        shopper_links.optin_signup,
        state.engine,
        state.settings,
        request.path_params["token"],
        _language(request),
    )
    _, t = shopper_pages.strings(signup.locale)
    product = signup.product or t["your_item"]
    if request.method != "POST":  # GET, and HEAD: a scanner's HEAD is answered as its GET
        return shopper_pages.render(
            "optin.html",
            signup.locale,
            title=t["optin_title"],
            shop=signup.shop,
            product=product,
            shop_url=signup.shop_url,
            product_url=signup.product_url,
        )
    await run_in_threadpool(shopper_links.confirm_now, state.engine, signup, link.made_at)
    return shopper_pages.message(
        signup.locale,
        t["optin_done_title"],
        t["optin_done"].format(product=product),
        shop=signup.shop,
        shop_url=signup.shop_url,
        product_url=signup.product_url,
        product=product,
    )


routes = [
    Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET", "POST"]),
    Route("/optin/{token}", optin_page, methods=["GET", "POST"]),
]
