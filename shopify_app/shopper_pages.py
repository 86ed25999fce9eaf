"""Pages shoppers see (unsubscribe, and later opt-in), rendered by the server in their language
from `templates/pages/`, with the strings of `templates/i18n/`."""

from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from .notify.render import TEMPLATES, _strings, pick_locale


@cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )


def strings(locale: str | None) -> tuple[str, dict[str, str]]:
    chosen = pick_locale(locale)
    return chosen, _strings(chosen)


def render(template: str, locale: str | None, *, status: int = 200, **context: Any) -> HTMLResponse:
    chosen, t = strings(locale)
    for name in ("shop", "shop_url", "product_url", "product"):
        context.setdefault(name, None)
    html = _env().get_template(f"pages/{template}").render(locale=chosen, t=t, **context)
    return HTMLResponse(html, status_code=status)


def message(
    locale: str | None,
    title: str,
    text: str,
    *,
    status: int = 200,
    shop: str | None = None,
    note: str | None = None,
    shop_url: str | None = None,
    product_url: str | None = None,
    product: str | None = None,
) -> HTMLResponse:
    return render(
        "message.html",
        locale,
        status=status,
        title=title,
        message=text,
        shop=shop,
        note=note,
        shop_url=shop_url,
        product_url=product_url,
        product=product,
    )
