"""Security headers on every response: nothing frames the app's pages but the shop's own admin."""

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from shopify_app.app import create_app

from .support import signed_query

SHOP = "demo-shop.myshopify.com"


@pytest.mark.parametrize("method, path", [
    ("GET", "/"), ("GET", "/unsubscribe/not-a-token"), ("POST", "/unsubscribe/not-a-token"),
    ("GET", "/auth?shop=evil.com"), ("GET", "/auth/callback?shop=demo-shop.myshopify.com"),
    ("GET", "/no-such-page"), ("GET", "/healthz"), ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/intents.json"), ("POST", "/webhooks/app/uninstalled"),
])
def test_pages_cannot_be_framed_and_are_not_sniffed(method, path, client):
    response = client.request(method, path, follow_redirects=False)
    assert response.status_code < 500
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("signed", [True, False])
def test_the_embedded_admin_may_be_framed_by_its_shop_only(signed, client, shop):
    query = signed_query({"shop": SHOP, "timestamp": str(int(__import__("time").time()))}) if signed else f"shop={SHOP}"
    response = client.get(f"/?{query}", follow_redirects=False)
    assert response.status_code == (200 if signed else 401)
    assert response.headers["content-security-policy"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com"
    assert "x-frame-options" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


SECURITY = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


def test_an_unhandled_error_answers_500_with_the_same_security_headers_as_any_answer(settings):
    app = create_app(settings)

    async def boom(request):
        raise RuntimeError("a bug")

    app.router.routes.append(Route("/boom", boom))
    with TestClient(app, base_url="https://app.example.test", raise_server_exceptions=False) as client:
        normal, failed = client.get("/healthz"), client.get("/boom")
    assert failed.status_code == 500 and failed.json() == {
        "errors": ["Something went wrong on our side; nothing was changed. Please try again."]}
    assert {h: failed.headers.get(h) for h in SECURITY} == {h: normal.headers[h] for h in SECURITY}
    assert len(failed.headers.get_list("x-content-type-options")) == 1
