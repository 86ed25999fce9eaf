"""The admin's pages, rendered by the server from `templates/admin/` with the same services as the
JSON interface; their small script (`templates/admin/admin.js`) calls `/app/api/…` for actions."""

from functools import cache, partial
from html import escape
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from .. import devshop, events_out, inventory, stock_scope
from ..errors import ApiError
from ..money import format_money
from ..notify.render import TEMPLATES, sms_segments
from ..shop_tokens import TokenKind
from . import delivery_log, listings, preview, privacy_requests, sending, setup_guide, stats
from . import settings as shop_settings
from .session import AdminSession

# Why the app asks for each scope, in the merchant's words (install.html).
SCOPE_PURPOSES = {
    "read_products": "read your products, to name them in alerts",
    "read_inventory": "read your stock levels, to know when a product is back",
    "read_locations": "read your locations' names, to say where stock came back",
    "read_markets": "read your markets' countries, to alert each market for its own stock",
    "read_shipping": "read which locations ship where, to tie your locations to your markets",
    "read_orders": "read your orders, to count the sales your alerts bring back",
    "write_app_proxy": "answer on your storefront, for the signup form",
}
NAV = [
    ("dashboard", "Dashboard"),
    ("demand", "Products in demand"),
    ("signups", "Signups"),
    ("deliveries", "Delivery log"),
    ("privacy", "Privacy requests"),
    ("settings", "Settings"),
]
WINDOWS = (7, 30, 90)


@cache
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES / "admin"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )
    # The admin is in English; amounts are in the shop's currency ("$1,234.50", "€49.00").
    env.filters["money"] = lambda amount, currency: format_money(amount, currency) or "—"
    return env


def render(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("shop", None)
    context.setdefault("dev_admin", False)
    return HTMLResponse(_env().get_template(template).render(**context), status_code=status)


def _context(request: Request, session: AdminSession, current: str) -> dict[str, Any]:
    def url(target: str = current, /, **params: Any) -> str:
        query = {k: v for k, v in params.items() if v not in (None, "")}
        query.update(shop=session.shop, id_token=session.token)
        return f"/app/{target}?{urlencode(query)}"

    return {
        "shop": session.shop,
        "token": session.token,
        "api_key": request.app.state.settings.SHOPIFY_API_KEY,
        "nav": NAV,
        "current": current,
        "url": url,
        "query": request.query_params,
        "dev_admin": _dev_admin(request, session),
        "product_url": partial(listings.admin_product_url, session.shop),
    }


def _dev_admin(request: Request, session: AdminSession) -> bool:
    """The local demo shop's admin (APP_ENV=development, opened from /dev/admin in a plain browser):
    no App Bridge, which outside the Shopify admin would only send the browser to an admin that
    does not exist for this shop."""
    return request.app.state.settings.is_development and session.shop == devshop.SHOP


def _days(request: Request) -> int:
    raw = request.query_params.get("days", "30")
    return (
        int(raw)
        if raw.isascii() and raw.isdigit() and int(raw[:3]) in WINDOWS and len(raw) <= 3
        else 30
    )


def chart(per_day: list[dict[str, Any]]) -> Markup:
    """Signups (bars) and alerts sent (line) per day: an SVG drawn here that stretches to the card,
    with its axis labels in HTML around it so they stay readable at any width."""
    width, height = 720, 200
    n = max(len(per_day), 1)
    peak = max([d["signups"] for d in per_day] + [d["alerts"] for d in per_day] + [1])
    peak += peak % 2  # an even top, so the middle line is a whole number
    step, scale = width / n, height / peak
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" preserveAspectRatio="none" aria-hidden="true">'
    ]
    for fraction in (0, 0.5, 1):
        y = min(max(height - fraction * height, 0.5), height - 0.5)
        parts.append(f'<line x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
    points = []
    for i, day in enumerate(per_day):
        h = day["signups"] * scale
        parts.append(
            f'<rect x="{i * step + step * 0.15:.1f}" y="{height - h:.1f}" width="{step * 0.7:.1f}" '
            f'height="{h:.1f}" class="bar"><title>{escape(day["date"])}: {day["signups"]} signups, '
            f"{day['alerts']} alerts</title></rect>"
        )
        points.append(f"{i * step + step / 2:.1f},{height - day['alerts'] * scale:.1f}")
    parts.append(f'<polyline points="{" ".join(points)}" class="line"/></svg>')
    y_axis = "".join(f"<span>{v}</span>" for v in (peak, peak // 2, 0))
    marks = [per_day[i]["date"][5:] for i in sorted({0, n // 2, n - 1}) if i < len(per_day)]
    x_axis = "".join(f"<span>{escape(m)}</span>" for m in marks)
    table = "".join(
        f"<tr><td>{escape(d['date'])}</td><td>{d['signups']}</td><td>{d['alerts']}</td></tr>"
        for d in per_day
    )
    return Markup(
        f'<div class="chart-box"><div class="y-axis" aria-hidden="true">{y_axis}</div>{"".join(parts)}'
        f'<div class="x-axis" aria-hidden="true">{x_axis}</div></div>'
        f'<table class="visually-hidden"><caption>Signups and alerts per day</caption>'
        f"<tr><th>Date</th><th>Signups</th><th>Alerts</th></tr>{table}</table>"
    )


def dashboard(request: Request, session: AdminSession) -> HTMLResponse:
    days = _days(request)
    # "Waiting now" is the most-wanted scan's total: one pass over the shop's pending signups, not two.
    figures, demand = stats.compute(
        request.app.state.engine,
        session.shop_id,
        days,
        request.app.state.clock(),
        beside=partial(listings.list_demand, shop_id=session.shop_id, query={"per_page": "5"}),
    )
    assert demand is not None  # given `beside`, compute returns what it counted
    with request.app.state.engine.connect() as connection:
        guide = setup_guide.read(
            connection, request.app.state.settings, session.shop_id, session.shop
        )
    return render(
        "dashboard.html",
        **_context(request, session, "dashboard"),
        title="Dashboard",
        days=days,
        windows=WINDOWS,
        stats=figures,
        chart=chart(figures["per_day"]),
        demand=demand["variants"],
        guide=guide,
        reconnect_needed=session.token_kind == TokenKind.reconnect_needed,
    )


def demand(request: Request, session: AdminSession) -> HTMLResponse:
    with request.app.state.engine.connect() as connection:
        result = listings.list_demand(connection, session.shop_id, request.query_params)
    return render(
        "demand.html",
        **_context(request, session, "demand"),
        title="Products in demand",
        rows=result["variants"],
        meta=result["meta"],
    )


def signups(request: Request, session: AdminSession) -> HTMLResponse:
    with request.app.state.engine.connect() as connection:
        result = listings.list_intents(connection, session.shop_id, request.query_params)
        held = listings.count_held(connection, session.shop_id)
        # "Notify now" / "Send all held" ask first where the product is out of stock.
        stock = sending.stock_of(
            connection, session.shop_id, {i["shopify_variant_id"] for i in result["intents"]}
        )
        held_empty = sending.held_out_of_stock(connection, session.shop_id) if held else ""
        capped = _capped_sms(request, session, connection) if held else None
    return render(
        "signups.html",
        **_context(request, session, "signups"),
        title="Signups",
        rows=result["intents"],
        meta=result["meta"],
        statuses=listings.INTENT_STATUSES,
        channels=listings.CHANNELS,
        consents=listings.CONSENT,
        held=held,
        stock=stock,
        held_out_of_stock=held_empty,
        capped=capped,
    )


def _capped_sms(request: Request, session: AdminSession, connection) -> dict[str, int] | None:
    """The SMS the shop's cap per restock held: how many, and about how many segments they bill
    (each as long as the shop's alert for its most wanted product)."""
    count = listings.count_capped_sms(connection, session.shop_id)
    if not count:
        return None
    values = shop_settings.read(connection, session.shop_id)
    sample = preview.render(
        connection,
        request.app.state.settings,
        session.shop_id,
        session.shop,
        {name: values[name] for name in preview.PREVIEWED},
    )
    return {
        "count": count,
        "segments": count * sms_segments(sample["sms"]["text"]),
        "cap": values["sms_cap_per_restock"] or 0,
    }


def deliveries(request: Request, session: AdminSession) -> HTMLResponse:
    with request.app.state.engine.connect() as connection:
        result = delivery_log.list_deliveries(connection, session.shop_id, request.query_params)
    return render(
        "deliveries.html",
        **_context(request, session, "deliveries"),
        title="Delivery log",
        rows=result["deliveries"],
        meta=result["meta"],
        statuses=delivery_log.NOTIFICATION_STATUSES,
        channels=listings.CHANNELS,
    )


def settings(request: Request, session: AdminSession) -> HTMLResponse:
    with request.app.state.engine.connect() as connection:
        values = shop_settings.with_can_send(
            shop_settings.read(connection, session.shop_id), request.app.state.settings
        )
        sample = preview.render(
            connection,
            request.app.state.settings,
            session.shop_id,
            session.shop,
            {name: values[name] for name in preview.PREVIEWED},
        )
        names = inventory.location_names(connection, session.shop_id)
        markets = stock_scope.market_names(connection, session.shop_id)
        sent = events_out.recent(connection, session.shop_id, limit=10)
    return render(
        "settings.html",
        **_context(request, session, "settings"),
        title="Settings",
        s=values,
        p=sample,
        locations=sorted(names.items(), key=lambda item: (item[1].lower(), item[0])),
        markets=[
            (
                name,
                ", ".join(names.get(loc, f"location {loc}") for loc in where)
                or "no location ships there",
            )
            for name, where in markets.values()
        ],
        events=sent,
    )


def privacy(request: Request, session: AdminSession) -> HTMLResponse:
    with request.app.state.engine.connect() as connection:
        result = privacy_requests.list_for_shop(connection, session.shop_id)
    return render(
        "privacy.html",
        **_context(request, session, "privacy"),
        title="Privacy requests",
        rows=result["data_requests"],
    )


PAGES = {
    "dashboard": dashboard,
    "demand": demand,
    "signups": signups,
    "deliveries": deliveries,
    "privacy": privacy,
    "settings": settings,
}


# A list's parameters as its filter form names them (bad_filter's page speaks of those).
FILTER_LABELS = {
    "shopify_variant_id": "Variant ID",
    "page": "Page",
    "per_page": "Rows per page",
    "status": "Status",
    "channel": "Channel",
    "consent": "Marketing consent",
    "q": "Email or phone",
    "days": "Period",
}


def _for_people(message: str) -> str:
    """ "shopify_variant_id: must be …" as the page's filter form names the field."""
    name, _, rule = message.partition(": ")
    label = FILTER_LABELS.get(name)
    return (
        f"{label} {rule.removeprefix('must ')}".replace(" be ", " should be ", 1)
        if label
        else message
    )


def bad_filter(request: Request, session: AdminSession, name: str, exc: ApiError) -> HTMLResponse:
    return render(
        "error.html",
        status=400,
        **_context(request, session, name),
        title="Cannot show this page",
        message="These filters cannot be used: "
        + "; ".join(_for_people(m) for m in exc.messages)
        + ".",
        detail=None,
        back=True,
    )


def unauthorized(request: Request, messages: list[str]) -> HTMLResponse:
    return render(
        "error.html",
        status=401,
        shop=None,
        nav=[],
        current="",
        api_key=request.app.state.settings.SHOPIFY_API_KEY,
        token="",
        title="Open this app from your Shopify admin",
        message="This link has no valid Shopify session, or its session has expired. Open Back in stock "
        "alerts from the Apps section of your Shopify admin.",
        detail="; ".join(messages),
        back=False,
    )


def install(request: Request, shop: str, missing: list[str] | None = None) -> HTMLResponse:
    """A valid session for a shop without the app (or without its token, or without scopes a new
    version of the app needs): install or approve it, outside the iframe."""
    return render(
        "install.html",
        shop=shop,
        install_url="/auth?" + urlencode({"shop": shop}),
        title="Install",
        missing=[SCOPE_PURPOSES.get(s, s) for s in missing or []],
    )
