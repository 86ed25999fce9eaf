"""Security headers on every response: nothing frames the app's pages but the shop's own admin, and
nothing is cached that its endpoint did not allow."""

import re

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from shopify_app.app import create_app

from .admin.tokens import bearer, session_token
from .support import proxy_query, signed_query

SHOP = "demo-shop.myshopify.com"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/unsubscribe/not-a-token"),
        ("POST", "/unsubscribe/not-a-token"),
        ("GET", "/auth?shop=evil.com"),
        ("GET", "/auth/callback?shop=demo-shop.myshopify.com"),
        ("GET", "/no-such-page"),
        ("GET", "/healthz"),
        ("GET", "/api/v1/openapi.json"),
        ("POST", "/api/v1/intents.json"),
        ("POST", "/webhooks/app/uninstalled"),
    ],
)
def test_pages_cannot_be_framed_and_are_not_sniffed(method, path, client):
    response = client.request(method, path, follow_redirects=False)
    assert response.status_code < 500
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("signed", [True, False])
def test_the_embedded_admin_may_be_framed_by_its_shop_only(signed, client, shop):
    query = (
        signed_query({"shop": SHOP, "timestamp": str(int(__import__("time").time()))})
        if signed
        else f"shop={SHOP}"
    )
    response = client.get(f"/?{query}", follow_redirects=False)
    assert response.status_code == (200 if signed else 401)
    assert (
        response.headers["content-security-policy"]
        == f"frame-ancestors https://{SHOP} https://admin.shopify.com"
    )
    assert "x-frame-options" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


SECURITY = (
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
)


def test_an_unhandled_error_answers_500_with_the_same_security_headers_as_any_answer(settings):
    app = create_app(settings)

    async def boom(request):
        raise RuntimeError("a bug")

    app.router.routes.append(Route("/boom", boom))
    with TestClient(
        app, base_url="https://app.example.test", raise_server_exceptions=False
    ) as client:
        normal, failed = client.get("/healthz"), client.get("/boom")
    assert failed.status_code == 500 and failed.json() == {
        "errors": ["Something went wrong on our side; nothing was changed. Please try again."]
    }
    assert {h: failed.headers.get(h) for h in SECURITY} == {h: normal.headers[h] for h in SECURITY}
    assert len(failed.headers.get_list("x-content-type-options")) == 1


def every_route(app) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves, mounts walked; HEAD is GET's."""

    def walk(routes, prefix=""):
        for route in routes:
            if isinstance(route, Mount):
                yield from walk(route.routes, prefix + route.path)
            else:
                yield from (
                    (method, prefix + route.path)
                    for method in sorted(route.methods or [])
                    if method != "HEAD"
                )

    return list(walk(app.routes))


def test_every_answer_is_no_store_unless_its_endpoint_says_it_may_be_cached(client, shop):
    """Admin pages and JSON, the merchant API, shoppers' link pages, the public API's answers: they
    carry shoppers' contacts, and no browser or shared cache may keep them (as the CSV exports)."""
    intent = client.post(
        "/api/v1/intents.json",
        headers={"X-Shopify-Shop-Domain": SHOP},
        json={
            "intent": {
                "shopify_variant_id": 39072856,
                "shopify_product_id": 632910392,
                "channel": "email",
                "quantity": 1,
                "source": "api",
            },
            "customer": {"email": "shopper@example.com"},
            "product": {"title": "Linen Shirt"},
        },
    ).json()["intents"][0]
    key = client.post("/app/api/api-key", headers=bearer()).json()["api_key"]
    params = {
        "intent_id": intent["id"],
        "id:path": intent["id"],
        "request_id": 1,
        "page": "signups",
        "rest:path": "nothing-here",
        "token": "not-a-token",
    }
    # Reads first (while the signup and the key exist), the key's rotation last.
    calls = sorted(
        every_route(client.app), key=lambda c: (c[0] != "GET", c[1] == "/app/api/api-key")
    )
    assert len(calls) > 40
    answered = {}
    for method, template in calls:
        path = re.sub(r"{([^}]+)}", lambda m: str(params[m.group(1)]), template)
        headers = {}
        if template == "/" or template.startswith("/app"):
            if template.startswith("/app/api/"):
                headers = bearer()
            else:
                path += f"?id_token={session_token()}"
        elif template.startswith("/api/v1/external/"):
            headers = {"X-Auth-Token": key}
        response = client.request(
            method,
            path,
            headers=headers,
            json={} if method != "GET" else None,
            follow_redirects=False,
        )
        assert response.status_code < 500, (method, template, response.status_code)
        assert response.headers.get("cache-control") == "no-store", (
            method,
            template,
            response.headers,
        )
        answered[method, template] = response
    # The answers walked are the real ones, contacts and all, not refusals of a missing login.
    for read in [
        ("GET", "/app/api/intents"),
        ("GET", "/api/v1/external/intents"),
        ("GET", "/app/{page}"),
        ("GET", "/api/v1/external/intents/{id:path}"),
        ("GET", "/app/api/export/signups.csv"),
    ]:
        assert answered[read].status_code == 200 and "shopper@example.com" in answered[read].text, (
            read
        )


def test_an_endpoint_that_may_be_cached_keeps_its_own_cache_control(client, shop):
    response = client.get(f"/proxy/config?{proxy_query(SHOP)}")
    assert (
        response.status_code == 200 and response.headers["cache-control"] == "public, max-age=300"
    )
