"""Session-token authentication of the embedded admin: pages take `id_token`, the JSON interface
`Authorization: Bearer`; forged, expired, wrong-audience or other-shop tokens get a 401."""

import time

import pytest
from sqlalchemy import select, update

from shopify_app.crypto import decrypt_token
from shopify_app.models import Shop, utcnow

from ..admin.tokens import OTHER, SHOP, bearer, session_token, signed_claims
from ..support import API_KEY, install_shop

FORGED = {
    "wrong secret": {"secret": "not-the-secret"},
    "wrong audience": {"aud": "another-app"},
    "expired": {"now": time.time() - 3600},
    "not yet valid": {"now": time.time() + 3600},
}


def test_api_without_a_token_is_401(client, shop):
    response = client.get("/app/api/settings")
    assert response.status_code == 401
    assert response.json()["errors"] == [
        "session token: missing; open the app from your Shopify admin"
    ]


@pytest.mark.parametrize("case", FORGED)
def test_api_refuses_forged_expired_and_wrong_audience_tokens(case, client, shop):
    response = client.get("/app/api/settings", headers=bearer(**FORGED[case]))
    assert response.status_code == 401
    assert response.json()["errors"][0].startswith("session token:")


def test_the_shop_parameter_alone_is_not_enough(client, shop):
    assert client.get(f"/app/api/settings?shop={SHOP}").status_code == 401
    assert client.get(f"/app?shop={SHOP}").status_code == 401


def test_issuer_and_destination_must_agree(client, shop):
    token = session_token(SHOP, iss=f"https://{OTHER}/admin")
    assert (
        client.get("/app/api/settings", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


def test_a_token_of_one_shop_cannot_ask_for_another(client, engine, settings, shop):
    install_shop(engine, settings, OTHER)
    response = client.get(f"/app/api/intents?shop={OTHER}", headers=bearer(SHOP))
    assert response.status_code == 401
    assert response.json()["errors"] == ["shop: the session token is for another shop"]
    assert client.get(f"/app?shop={OTHER}&id_token={session_token(SHOP)}").status_code == 401


def test_expiry_follows_the_apps_clock(client, shop):
    token = session_token(SHOP, ttl=60)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/app/api/settings", headers=headers).status_code == 200
    client.app.state.clock = lambda: time.time() + 75  # past exp and its 10 s leeway
    assert client.get("/app/api/settings", headers=headers).status_code == 401
    assert client.get(f"/app?id_token={token}").status_code == 401


def test_a_valid_token_opens_the_pages_framed_by_the_shop(client, shop):
    response = client.get(f"/app?shop={SHOP}&id_token={session_token()}")
    assert response.status_code == 200
    assert (
        response.headers["content-security-policy"]
        == f"frame-ancestors https://{SHOP} https://admin.shopify.com"
    )
    assert '<meta name="shopify-api-key" content="test-api-key">' in response.text
    assert (
        '<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>'
        in response.text
    )
    home = client.get(f"/?shop={SHOP}&id_token={session_token()}")
    assert home.status_code == 200 and "Dashboard" in home.text


def test_a_bad_page_token_gets_a_readable_401_page(client, shop):
    response = client.get(f"/app/settings?id_token={session_token(secret='forged')}")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "Open this app from your Shopify admin" in response.text


def stored_token(engine, settings, domain=SHOP):
    with engine.connect() as connection:
        row = connection.execute(
            select(Shop.__table__).where(Shop.__table__.c.domain == domain)
        ).first()
    return (
        row
        and row.access_token_encrypted
        and decrypt_token(settings.SECRET_KEY, row.access_token_encrypted)
    )


def test_a_shop_without_a_token_gets_one_by_token_exchange(
    client, engine, settings, fake_shopify, shop
):
    with engine.begin() as connection:
        connection.execute(
            update(Shop.__table__).values(access_token_encrypted=None, uninstalled_at=utcnow())
        )
    token = session_token()
    page = client.get(f"/app?id_token={token}")
    assert page.status_code == 200 and "<h1>Dashboard</h1>" in page.text
    [request] = fake_shopify.token_requests
    assert request["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert (
        request["subject_token"] == token
        and request["client_secret"] == settings.SHOPIFY_API_SECRET
    )
    assert (
        request["requested_token_type"]
        == "urn:shopify:params:oauth:token-type:offline-access-token"
    )
    assert stored_token(engine, settings) == fake_shopify.tokens[SHOP]


def test_a_new_shop_is_installed_by_token_exchange_from_the_api(
    client, engine, settings, fake_shopify, shop
):
    response = client.get("/app/api/settings", headers=bearer("brand-new.myshopify.com"))
    assert response.status_code == 200 and response.json()["min_restock_quantity"] == 1
    assert (
        stored_token(engine, settings, "brand-new.myshopify.com")
        == fake_shopify.tokens["brand-new.myshopify.com"]
    )


@pytest.mark.parametrize("mode", ["error", "garbage"])
def test_when_token_exchange_fails_the_shop_is_sent_to_install(
    mode, client, engine, settings, fake_shopify, shop
):
    fake_shopify.token_mode = mode
    with engine.begin() as connection:
        connection.execute(update(Shop.__table__).values(access_token_encrypted=None))
    page = client.get(f"/app?id_token={session_token()}")
    assert page.status_code == 200 and f'href="/auth?shop={SHOP}"' in page.text
    assert (
        page.headers["content-security-policy"]
        == f"frame-ancestors https://{SHOP} https://admin.shopify.com"
    )
    api = client.get("/app/api/settings", headers=bearer())
    assert api.status_code == 401 and "not installed" in api.json()["errors"][0]
    assert stored_token(engine, settings) is None


def test_cross_site_writes_without_a_token_change_nothing(client, shop):
    before = client.get("/app/api/settings", headers=bearer()).json()
    response = client.put(
        "/app/api/settings", json={"double_optin": True}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 401
    assert client.get("/app/api/settings", headers=bearer()).json() == before
    assert client.post("/app/api/api-key").status_code == 401


@pytest.mark.parametrize("case", FORGED)
def test_a_bad_token_never_reaches_token_exchange(case, client, fake_shopify, shop):
    assert (
        client.get(
            "/app/api/settings", headers=bearer("brand-new.myshopify.com", **FORGED[case])
        ).status_code
        == 401
    )
    assert (
        client.get(
            f"/app?id_token={session_token('brand-new.myshopify.com', **FORGED[case])}"
        ).status_code
        == 401
    )
    assert fake_shopify.token_requests == []


OLD_SCOPES = "read_products,read_inventory,write_app_proxy"


def stored_scopes(engine) -> str:
    with engine.connect() as connection:
        return connection.execute(
            select(Shop.__table__.c.scopes).where(Shop.__table__.c.domain == SHOP)
        ).scalar_one()


def test_a_shop_granted_fewer_scopes_than_the_app_asks_gets_them_by_token_exchange(
    client, engine, fake_shopify, shop
):
    with engine.begin() as connection:
        connection.execute(update(Shop.__table__).values(scopes=OLD_SCOPES))
    page = client.get(f"/app?id_token={session_token()}")
    assert page.status_code == 200 and "<h1>Dashboard</h1>" in page.text
    assert [r["grant_type"] for r in fake_shopify.token_requests] == [
        "urn:ietf:params:oauth:grant-type:token-exchange"
    ]
    assert "read_orders" in stored_scopes(engine)
    client.get(f"/app?id_token={session_token()}")
    assert len(fake_shopify.token_requests) == 1  # granted now: no more exchanges


@pytest.mark.parametrize("mode", ["error", "old scopes"])
def test_scopes_still_missing_send_the_merchant_to_approve_them(
    mode, client, engine, fake_shopify, shop
):
    with engine.begin() as connection:
        connection.execute(update(Shop.__table__).values(scopes=OLD_SCOPES))
    if mode == "error":
        fake_shopify.token_mode = "error"
    else:
        fake_shopify.granted_scope = OLD_SCOPES
    page = client.get(f"/app?id_token={session_token()}")
    assert page.status_code == 200 and "Approve new permissions" in page.text
    assert "read your orders, to count the sales your alerts bring back" in page.text
    assert f'href="/auth?shop={SHOP}"' in page.text
    assert (
        page.headers["content-security-policy"]
        == f"frame-ancestors https://{SHOP} https://admin.shopify.com"
    )
    assert (
        client.get("/app/api/settings", headers=bearer()).status_code == 200
    )  # what it can do, it still does


def test_missing_scopes_counts_write_as_read():
    from shopify_app.shops import missing_scopes

    assert missing_scopes(
        "write_products, read_inventory", ["read_products", "read_inventory", "read_orders"]
    ) == ["read_orders"]
    assert missing_scopes("", ["write_app_proxy"]) == ["write_app_proxy"]


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": f"https://{SHOP}/admin",
        "dest": f"https://{SHOP}",
        "aud": API_KEY,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 1,
        "iat": now,
        "jti": "j-1",
        "sid": "s-1",
    }
    return {k: v for k, v in {**claims, **overrides}.items() if v is not DROP}


DROP = object()
FAR = int(time.time()) + 3600
WRONG_CLAIMS = {
    "exp a string of digits": {"exp": str(FAR)},
    "exp a string": {"exp": "soon"},
    "exp true": {"exp": True},
    "exp a list": {"exp": [FAR]},
    "exp null": {"exp": None},
    "exp NaN": {"exp": float("nan")},
    "exp Infinity": {"exp": float("inf")},
    "nbf a string": {"nbf": "1"},
    "nbf an object": {"nbf": {"t": 1}},
    "nbf true": {"nbf": True},
    "iat a string": {"iat": "x"},
    "iat NaN": {"iat": float("nan")},
    "iat a list": {"iat": [1]},
    "dest a number": {"dest": 5},
    "dest a list": {"dest": [f"https://{SHOP}"]},
    "iss a number": {"iss": 5},
    "iss an object": {"iss": {"shop": SHOP}},
    "sub an object": {"sub": {"id": 1}},
    "aud a number": {"aud": 5},
    "jti a number": {"jti": 5},
    "sid a list": {"sid": ["s"]},
    "no exp": {"exp": DROP},
    "no dest": {"dest": DROP},
}


@pytest.mark.parametrize("case", WRONG_CLAIMS)
def test_a_signed_token_whose_claims_have_the_wrong_types_is_a_401(
    case, client, fake_shopify, shop
):
    token = signed_claims(_claims(**WRONG_CLAIMS[case]))
    api = client.get("/app/api/settings", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401, api.text
    assert api.json()["errors"][0].startswith("session token:")
    page = client.get(f"/app?id_token={token}")
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert fake_shopify.token_requests == []


def test_a_token_with_the_right_claim_types_still_opens_the_api(client, shop):
    token = signed_claims(
        _claims(exp=time.time() + 60.5, iat=time.time())
    )  # NumericDate may be fractional
    assert (
        client.get("/app/api/settings", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    huge = signed_claims(_claims(iat=10**400))  # a number too big for a float is still a number
    assert (
        client.get("/app/api/settings", headers={"Authorization": f"Bearer {huge}"}).status_code
        == 200
    )
