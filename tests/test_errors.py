"""One error path (shopify_app/errors.py): whatever raises an ApiError or a PageError, its one
handler answers it; anything else, a ValueError from a bug included, is a 500 that says nothing."""

from starlette.routing import Route
from starlette.testclient import TestClient

from shopify_app.app import create_app
from shopify_app.errors import ApiError, PageError


def _raising(exc: Exception):
    async def endpoint(request):
        raise exc

    return endpoint


def _app(settings, path: str, exc: Exception) -> TestClient:
    app = create_app(settings, run_worker=False)
    app.router.routes.insert(0, Route(path, _raising(exc)))
    return TestClient(app, raise_server_exceptions=False)


def test_a_value_error_from_a_bug_is_a_500_not_a_400(settings):
    with _app(settings, "/app/api/boom", ValueError("q: must be at most 320 characters")) as client:
        answer = client.get("/app/api/boom")
    assert answer.status_code == 500
    assert answer.json() == {
        "errors": ["Something went wrong on our side; nothing was changed. Please try again."]
    }


def test_an_api_error_is_its_status_body_and_headers(settings):
    exc = ApiError(429, "slow down", headers={"Retry-After": "3"})
    with _app(settings, "/api/boom", exc) as client:
        answer = client.get("/api/boom")
    assert (answer.status_code, answer.json()) == (429, {"errors": ["slow down"]})
    assert answer.headers["retry-after"] == "3"


def test_an_api_error_carries_stoqs_bodies(settings):
    with _app(settings, "/api/boom", ApiError.stoq(422, "Nope", sent_intent_ids=[3])) as client:
        assert client.get("/api/boom").json() == {"error": "Nope", "sent_intent_ids": [3]}
    with _app(settings, "/api/boom", ApiError.unhonoured("customer.email: bad")) as client:
        answer = client.get("/api/boom")
    assert (answer.status_code, answer.json()) == (
        200,
        {"intents": [], "errors": ["customer.email: bad"]},
    )


def test_a_page_error_is_a_readable_page(settings):
    exc = PageError(400, "Cannot install", "The shop <must> be named.", headers={"X-A": "b"})
    with _app(settings, "/boom", exc) as client:
        answer = client.get("/boom")
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["x-a"] == "b"
    assert "<h1>Cannot install</h1><p>The shop &lt;must&gt; be named.</p>" in answer.text
