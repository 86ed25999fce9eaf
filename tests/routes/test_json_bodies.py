"""Every door that takes a JSON body reads it by one rule (`request_body.json_body`): a
document nested deeper than 1,024 levels, or no JSON at all, is a 400 saying so, and changes
nothing. The standard library's parser once met 3,000 levels with a RecursionError: a 500."""

import pytest
from sqlalchemy import func, select
from starlette.routing import Route

from shopify_app.external_api import api_keys
from shopify_app.models import Intent, SettingsChange
from shopify_app.routes import admin, merchant_api

from ..admin.tokens import SHOP, bearer
from ..support import proxy_query

DEEP_ARRAY = b"[" * 3000 + b"]" * 3000
DEEP_OBJECT = b'{"a":' * 3000 + b"1" + b"}" * 3000
# 1,000 levels is within the limit: read, then refused by the body's schema like any wrong value.
WITHIN_LIMIT = (
    b'{"intent":'
    + b"[" * 1000
    + b"]" * 1000
    + b',"intent_ids":'
    + b'{"a":' * 1000
    + b"1"
    + b"}" * 1000
    + b"}"
)
TOO_DEEP = "must be JSON nested at most 1,024 levels deep"


def _routes(routes, prefix=""):
    for route in routes:
        if isinstance(route, Route):
            yield prefix + route.path, route.methods
        else:
            yield from _routes(route.routes, prefix + route.path)


# Every admin JSON write but the key rotation, which reads no body; every merchant write.
ADMIN_WRITES = [
    (m, p.replace("{intent_id}", "1"))
    for p, methods in _routes(admin.routes)
    for m in sorted(methods)
    if p.startswith("/app/api/") and m in ("POST", "PUT") and p != "/app/api/api-key"
]
MERCHANT_WRITES = [
    (m, p)
    for p, methods in _routes(merchant_api.routes)
    for m in sorted(methods)
    if m in ("POST", "DELETE") and "{" not in p
]


def test_the_route_lists_are_not_empty():
    assert len(ADMIN_WRITES) >= 4 and len(MERCHANT_WRITES) == 4, (ADMIN_WRITES, MERCHANT_WRITES)


def _nothing_changed(engine):
    with engine.connect() as connection:
        assert (
            connection.execute(select(func.count()).select_from(Intent.__table__)).scalar_one() == 0
        )
        assert (
            connection.execute(
                select(func.count()).select_from(SettingsChange.__table__)
            ).scalar_one()
            == 0
        )


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize(("method", "path"), ADMIN_WRITES)
def test_a_deeply_nested_admin_body_is_a_400(method, path, body, client, engine, shop):
    response = client.request(
        method, path, content=body, headers={**bearer(), "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json() == {"errors": [f"body: {TOO_DEEP}"]}
    _nothing_changed(engine)


@pytest.mark.parametrize(("method", "path"), ADMIN_WRITES)
def test_an_admin_body_within_the_depth_limit_is_checked_like_any_other(
    method, path, client, engine, shop
):
    response = client.request(method, path, content=WITHIN_LIMIT, headers=bearer())
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["errors"] and all(isinstance(e, str) for e in response.json()["errors"])
    _nothing_changed(engine)


@pytest.mark.parametrize(
    "body", [DEEP_ARRAY, DEEP_OBJECT, WITHIN_LIMIT], ids=["array", "object", "within"]
)
@pytest.mark.parametrize(("method", "path"), MERCHANT_WRITES)
def test_a_deeply_nested_merchant_body_is_a_400(method, path, body, client, engine, shop):
    with engine.begin() as connection:
        key = api_keys.rotate(connection, SHOP)
    response = client.request(method, path, content=body, headers={"X-Auth-Token": key})
    assert response.status_code == 400, response.text
    if body is not WITHIN_LIMIT:
        assert response.json() == {"error": f"The body {TOO_DEEP}"}
    _nothing_changed(engine)


@pytest.mark.parametrize(
    "body", [DEEP_ARRAY, DEEP_OBJECT, WITHIN_LIMIT], ids=["array", "object", "within"]
)
@pytest.mark.parametrize("door", ["public", "proxy"])
def test_a_deeply_nested_signup_is_a_400(door, body, client, engine, shop):
    if door == "public":
        response = client.post(
            "/api/v1/intents.json", content=body, headers={"X-Shopify-Shop-Domain": SHOP}
        )
    else:
        response = client.post(
            f"/proxy/intents?{proxy_query(SHOP)}",
            content=body,
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400, response.text
    if body is not WITHIN_LIMIT:
        assert response.json() == {"errors": [f"The body {TOO_DEEP}"]}
    _nothing_changed(engine)
