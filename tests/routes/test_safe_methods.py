"""A HEAD changes nothing, anywhere (mail scanners and link previews send it). Every route of the
app that answers GET is walked, with credentials that pass: a HEAD, then (where a GET only reads)
a GET, and every table is compared before and after each. A HEAD answers as the GET does (status
and headers, no body); a route whose GET writes by design (OAuth's state and code, the admin's
token exchange for a shop whose token we lack) takes no HEAD: 405 and nothing done."""

from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import SQLModel
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from shopify_app.app import create_app
from shopify_app.external_api import api_keys
from shopify_app.models import Intent
from shopify_app.notify import channels as notify_channels
from shopify_app.notify.render import optin_token, unsubscribe_token

from ..admin.tokens import session_token
from ..support import install_shop, proxy_query

SHOP = "demo-shop.myshopify.com"
FRESH = "fresh-shop.myshopify.com"  # a valid session token, but no access token stored: a GET exchanges it
NEW = "new-shop.myshopify.com"  # installing
intents = Intent.__table__
# A HEAD is counted against the merchant API's limit as the GET it stands for is (its answer says so).
COUNTERS = {"rate_limit_counter"}
# Figures kept from other rows, which the dashboard's GET fills for closed days (admin/kept_days.py):
# a cache of counts; emptying it changes no answer.
DERIVED = {"stats_day"}
# Headers that say when or how much is left, not what the answer is.
MOMENTARY = {"x-ratelimit-remaining", "x-ratelimit-reset", "date"}
# Routes that take no HEAD: their GET writes by design (OAuth), or may (every admin request can buy
# a shop its access token by token exchange).
NO_HEAD = {"/auth", "/auth/callback", "/", "/app", "/app/{page}"} | {
    "/app/api/settings",
    "/app/api/stats",
    "/app/api/intents",
    "/app/api/demand",
    "/app/api/deliveries",
    "/app/api/events/deliveries",
    "/app/api/export/signups.csv",
    "/app/api/export/deliveries.csv",
    "/app/api/data-requests",
    "/app/api/data-requests/{request_id}",
}
GET_WRITES = {"/auth", "/auth/callback"}


def get_routes(routes, prefix: str = "") -> list[str]:
    """Every path template of `routes` that answers GET (Mounts walked)."""
    found = []
    for route in routes:
        if isinstance(route, Mount):
            found += get_routes(route.routes, prefix + route.path)
        elif isinstance(route, Route) and "GET" in (route.methods or ()):
            found.append(prefix + route.path)
    return found


def snapshot(engine) -> dict[str, list]:
    with engine.connect() as connection:
        return {
            table.name: sorted(map(repr, connection.execute(select(table)).all()))
            for table in SQLModel.metadata.sorted_tables
            if table.name not in COUNTERS | DERIVED
        }


def signup(client) -> int:
    response = client.post(
        "/api/v1/intents.json",
        headers={"X-Shopify-Shop-Domain": SHOP},
        json={
            "intent": {
                "shopify_variant_id": 1,
                "shopify_product_id": 2,
                "channel": "email",
                "quantity": 1,
                "source": "api",
            },
            "customer": {"email": "ann@example.com"},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["intents"][0]["id"]


def callback_path(client) -> str:
    """An install begun in this browser and consented to at Shopify: the callback, not yet loaded."""
    begun = client.get(f"/auth?shop={NEW}", follow_redirects=False)
    consented = httpx.get(begun.headers["location"], follow_redirects=False)
    url = httpx.URL(consented.headers["location"])
    return f"{url.path}?{url.query.decode()}"


Call = tuple[str, dict[str, str]]  # a path with its query, and headers


def requests_for(client, engine, settings, intent_id: int) -> dict[str, tuple[Call, Call]]:
    """For each GET route: how to call it with a HEAD and with a GET. The admin's HEADs carry a
    session token of a shop whose access token we lack (were it run, it would be exchanged and
    stored); its GETs one of the installed shop."""
    with engine.begin() as connection:
        key = {"X-Auth-Token": api_keys.rotate(connection, SHOP)}
    fresh, mine = session_token(FRESH), session_token(SHOP)

    def same(path: str, headers: dict[str, str] | None = None) -> tuple[Call, Call]:
        return (path, headers or {}), (path, headers or {})

    def admin(path: str, *, page: bool = False) -> tuple[Call, Call]:
        if page:  # a document load: the token in the query
            return (f"{path}?{urlencode({'id_token': fresh})}", {}), (
                f"{path}?{urlencode({'id_token': mine})}",
                {},
            )
        return (path, {"Authorization": f"Bearer {fresh}"}), (
            path,
            {"Authorization": f"Bearer {mine}"},
        )

    proxy = proxy_query(SHOP)
    known = {
        "/healthz": same("/healthz"),
        "/readyz": same("/readyz"),
        "/metrics": same("/metrics", {"Authorization": "Bearer not-the-token"}),
        "/auth": same(f"/auth?shop={NEW}"),
        "/auth/callback": same(callback_path(client)),
        "/api/v1/external/intents": same("/api/v1/external/intents", key),
        "/api/v1/external/intents.json": same("/api/v1/external/intents.json", key),
        "/api/v1/external/intents/{id:path}": same(f"/api/v1/external/intents/{intent_id}", key),
        "/api/v1/external/{rest:path}": same("/api/v1/external/nothing", key),
        "/api/v1/openapi.json": same("/api/v1/openapi.json"),
        "/proxy/config": same(f"/proxy/config?{proxy}"),
        "/proxy/sw.js": same(f"/proxy/sw.js?{proxy}"),
        "/unsubscribe/{token}": same(
            f"/unsubscribe/{unsubscribe_token(settings.SECRET_KEY, intent_id)}"
        ),
        "/optin/{token}": same(f"/optin/{optin_token(settings.SECRET_KEY, intent_id)}"),
        "/": admin("/", page=True),
        "/app": admin("/app", page=True),
        "/app/{page}": admin("/app/demand", page=True),
        "/app/api/data-requests/{request_id}": admin("/app/api/data-requests/1"),
    }
    for path in NO_HEAD:
        if path.startswith("/app/api/") and path not in known:
            known[path] = admin(path)
    return known


def walk(client, engine, settings, app) -> list[str]:
    intent_id = signup(client)
    # The block's config records, on its first GET, that the block is on the storefront (the setup
    # guide's first step): seen before the walk, so the walk's GET reads only.
    assert client.get(f"/proxy/config?{proxy_query(SHOP)}").status_code == 200
    known = requests_for(client, engine, settings, intent_id)
    walked = []
    for template in get_routes(app.routes):
        assert template in known, f"{template}: a GET route this test does not know how to call"
        (head_path, head_headers), (get_path, get_headers) = known[template]
        before = snapshot(engine)
        head = client.head(head_path, headers=head_headers, follow_redirects=False)
        assert snapshot(engine) == before, f"HEAD {template} changed something"
        assert head.content == b""
        if template in NO_HEAD:
            assert head.status_code == 405 and head.headers["allow"] == "GET", template
        if template not in GET_WRITES:
            got = client.get(get_path, headers=get_headers, follow_redirects=False)
            assert got.status_code < 500 and snapshot(engine) == before, (
                f"GET {template} changed something"
            )
            if template not in NO_HEAD:
                assert head.status_code == got.status_code, template
                assert {k: v for k, v in head.headers.items() if k not in MOMENTARY} == {
                    k: v for k, v in got.headers.items() if k not in MOMENTARY
                }, template
        walked.append(template)
    return walked


@pytest.mark.slow
def test_no_head_and_no_reading_get_changes_anything_on_any_route(engine, settings, fake_shopify):
    install_shop(engine, settings, SHOP, double_optin=True)
    app = create_app(settings)
    with TestClient(app, base_url="https://app.example.test") as client:
        walked = walk(client, engine, settings, app)
    assert {"/optin/{token}", "/unsubscribe/{token}", "/auth/callback", "/app/api/stats"} <= set(
        walked
    )
    assert fake_shopify.token_requests == []  # no HEAD exchanged a code or a session token


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_a_shopper_link_answers_a_head_as_its_get_and_only_a_post_acts(
    method, client, engine, settings
):
    install_shop(engine, settings, SHOP, double_optin=True)
    intent_id = signup(client)
    for path in (
        f"/optin/{optin_token(settings.SECRET_KEY, intent_id)}",
        f"/unsubscribe/{unsubscribe_token(settings.SECRET_KEY, intent_id)}",
    ):
        answer = client.request(method, path)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    with engine.connect() as connection:
        row = connection.execute(select(intents.c.status, intents.c.optin_confirmed)).one()
    assert (row.status, row.optin_confirmed) == ("pending", False)


def test_a_head_costs_the_merchant_api_what_a_get_costs(client, engine, shop):
    with engine.begin() as connection:
        key = {"X-Auth-Token": api_keys.rotate(connection, SHOP)}
    first = int(
        client.get("/api/v1/external/intents", headers=key).headers["x-ratelimit-remaining"]
    )
    second = int(
        client.head("/api/v1/external/intents", headers=key).headers["x-ratelimit-remaining"]
    )
    third = int(
        client.get("/api/v1/external/intents", headers=key).headers["x-ratelimit-remaining"]
    )
    assert first - second == second - third == 1


def test_no_head_or_get_of_the_development_pages_changes_anything(
    engine, settings, tmp_path, monkeypatch
):
    monkeypatch.setattr(notify_channels, "DEV_OUTBOX", tmp_path)
    (tmp_path / "a.eml").write_bytes(
        b"To: ann@example.com\r\nSubject: Back\r\nContent-Type: text/html\r\n\r\n<p>Hi</p>"
    )
    app = create_app(
        settings.model_copy(update={"APP_ENV": "development", "APP_URL": "http://127.0.0.1:8000"})
    )
    known = {
        "/dev": "/dev",
        "/dev/storefront": "/dev/storefront",
        "/dev/admin": "/dev/admin",
        "/dev/extension/assets/{name}": "/dev/extension/assets/notify-me.js",
        "/dev/outbox/{name}": "/dev/outbox/a.eml",
        "/dev/outbox/{name}/html": "/dev/outbox/a.eml/html",
        "/apps/back-in-stock/{path:path}": "/apps/back-in-stock/config",
    }
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        client.get("/apps/back-in-stock/config")  # the block's first sighting (see `walk`)
        production = set(get_routes(create_app(settings).routes))
        for template in (t for t in get_routes(app.routes) if t not in production):
            assert template in known, f"{template}: a GET route this test does not know how to call"
            before = snapshot(engine)
            head = client.head(known[template], follow_redirects=False)
            got = client.get(known[template], follow_redirects=False)
            assert snapshot(engine) == before, f"{template} changed something"
            assert head.status_code == got.status_code and head.status_code in (200, 303, 307), (
                template
            )
            assert (
                head.headers.get("content-type") == got.headers.get("content-type")
                and head.content == b""
            )
