from starlette.testclient import TestClient

from shopify_app.app import create_app


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_readyz_fails_while_the_database_does_not_answer(settings):
    down = settings.model_copy(
        update={"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"}
    )
    with TestClient(create_app(down)) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json()["errors"]
