"""The install flow end to end: the app (in-process) talks to a fake Shopify over real HTTP."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from shopify_app.crypto import decrypt_token
from shopify_app.db import session_scope
from shopify_app.models import OAuthState, Shop, utcnow

from ..support import cases, consent, signed_query, start_install

SHOP = "new-shop.myshopify.com"


def shops(engine):
    with session_scope(engine) as session:
        return session.exec(select(Shop)).all()


def test_install_redirects_to_authorize_with_a_fresh_state(client, settings, fake_shopify):
    first, second = start_install(client), start_install(client)
    url = urlsplit(first.headers["location"])
    assert f"{url.scheme}://{url.netloc}" == fake_shopify.base_url
    assert url.path == f"/{SHOP}/admin/oauth/authorize"
    query = parse_qs(url.query)
    assert query["client_id"] == [settings.SHOPIFY_API_KEY]
    assert query["scope"] == [
        "read_products,read_inventory,read_locations,read_markets,read_orders,read_shipping,write_app_proxy"
    ]
    assert query["redirect_uri"] == ["https://app.example.test/auth/callback"]
    assert len(query["state"][0]) == 64
    assert query["state"] != parse_qs(urlsplit(second.headers["location"]).query)["state"]
    cookie = first.headers["set-cookie"]
    assert (
        "HttpOnly" in cookie
        and "Secure" in cookie
        and "SameSite=lax" in cookie
        and query["state"][0] not in cookie
    )


def test_full_install_stores_the_shop_and_opens_the_app(client, engine, settings, fake_shopify):
    callback = consent(client, fake_shopify, start_install(client))
    response = client.get(callback, follow_redirects=False)
    assert response.status_code == 302
    assert (
        response.headers["location"]
        == f"{fake_shopify.base_url}/{SHOP}/admin/apps/{settings.SHOPIFY_API_KEY}"
    )
    [shop] = shops(engine)
    assert shop.domain == SHOP and shop.uninstalled_at is None
    assert shop.scopes == fake_shopify.granted_scope
    token = fake_shopify.tokens[SHOP]
    assert token not in shop.access_token_encrypted  # stored encrypted
    assert decrypt_token(settings.SECRET_KEY, shop.access_token_encrypted) == token
    [request] = fake_shopify.token_requests
    assert (
        request["client_id"] == settings.SHOPIFY_API_KEY
        and request["client_secret"] == settings.SHOPIFY_API_SECRET
    )


def test_reinstall_updates_the_row_and_clears_uninstalled_at(client, engine, fake_shopify):
    client.get(consent(client, fake_shopify, start_install(client)), follow_redirects=False)
    with session_scope(engine) as session:
        shop = session.exec(select(Shop)).one()
        shop.uninstalled_at, shop.access_token_encrypted = utcnow(), None
    response = client.get(
        consent(client, fake_shopify, start_install(client)), follow_redirects=False
    )
    assert response.status_code == 302
    [shop] = shops(engine)
    assert shop.uninstalled_at is None and shop.access_token_encrypted


def test_replayed_state_is_refused(client, engine, fake_shopify):
    install = start_install(client)
    callback = consent(client, fake_shopify, install)
    assert client.get(callback, follow_redirects=False).status_code == 302
    # The same callback again (and a fresh code for the same state): the nonce is gone.
    client.cookies.set(
        "shopify_app_oauth_state", install.cookies["shopify_app_oauth_state"], path="/auth"
    )
    again = consent(client, fake_shopify, install)
    assert client.get(again, follow_redirects=False).status_code == 401
    assert len(fake_shopify.token_requests) == 1


@pytest.mark.parametrize(
    "case", ["wrong_state", "no_cookie", "other_browser", "tampered_hmac", "other_shop", "no_hmac"]
)
def test_failed_checks_store_nothing(case, client, engine, fake_shopify, settings):
    install = start_install(client)
    state = parse_qs(urlsplit(install.headers["location"]).query)["state"][0]
    params = {"code": "abc", "shop": SHOP, "state": state, "timestamp": str(int(time.time()))}
    if case == "wrong_state":
        params["state"] = "0" * 64
    if case == "no_cookie":
        client.cookies.clear()
    if case == "other_browser":
        client.cookies.clear()
        start_install(client)  # this browser holds a different nonce
    if case == "other_shop":
        params["shop"] = "someone-else.myshopify.com"
    query = signed_query(params)
    if case == "tampered_hmac":
        query = query.replace("code=abc", "code=abd")
    if case == "no_hmac":
        query = query.split("&hmac=")[0]
    response = client.get(f"/auth/callback?{query}", follow_redirects=False)
    assert response.status_code in (400, 401)
    assert "location" not in response.headers
    assert shops(engine) == [] and fake_shopify.token_requests == []


def test_expired_state_is_refused(client, engine, fake_shopify):
    install = start_install(client)
    with session_scope(engine) as session:
        for row in session.exec(select(OAuthState)).all():
            row.expires_at = utcnow()
    time.sleep(0.01)
    assert (
        client.get(consent(client, fake_shopify, install), follow_redirects=False).status_code
        == 401
    )
    assert shops(engine) == []


@pytest.mark.parametrize(
    "shop",
    [
        "evil.com",
        "my-shop.myshopify.com.evil.com",
        "",
        "https%3A%2F%2Fx.myshopify.com",
        "a_b.myshopify.com",
    ],
)
def test_bad_shop_domains_get_400_and_no_redirect(client, shop):
    for path in (f"/auth?shop={shop}", f"/auth/callback?shop={shop}&code=x&state=y"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 400 and "location" not in response.headers
        assert "text/html" in response.headers["content-type"]


def test_install_request_with_a_bad_hmac_gets_400(client, engine):
    query = signed_query({"shop": SHOP, "timestamp": str(int(time.time()))})
    assert client.get(f"/auth?{query}", follow_redirects=False).status_code == 302
    tampered = query.replace("hmac=", "hmac=0")
    response = client.get(f"/auth?{tampered}", follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers
    with session_scope(engine) as session:
        assert len(session.exec(select(OAuthState)).all()) == 1


@pytest.mark.parametrize("mode", ["error", "slow", "garbage"])
def test_token_endpoint_failure_stores_nothing(mode, client, engine, fake_shopify):
    fake_shopify.token_mode = mode
    fake_shopify.slow_seconds = 3.0  # the app's timeout is 1 s in tests
    started = time.monotonic()
    response = client.get(
        consent(client, fake_shopify, start_install(client)), follow_redirects=False
    )
    assert response.status_code == 502 and "location" not in response.headers
    assert time.monotonic() - started < 2.5
    assert shops(engine) == []
    assert len(fake_shopify.token_requests) == 1


def test_no_query_gives_a_server_error(backend, client):
    """Arbitrary, correctly signed queries on both install routes: a page or a redirect, never 5xx."""
    from urllib.parse import urlencode

    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as st

    from shopify_app.verify import query_hmac

    from ..support import API_SECRET, CASE_COUNTS

    now = str(int(time.time()))
    awkward = st.sampled_from(
        ["²", "٣", "9" * 5000, "9" * 30, "\x00", "", "-1", now, SHOP, "x" * 3000]
    )
    values = st.text(max_size=30) | awkward
    params = st.fixed_dictionaries(
        {
            "shop": st.sampled_from([SHOP, SHOP, SHOP.upper()]) | values,
            "timestamp": st.sampled_from([now] * 3) | values,
        },
        optional={"code": values, "state": values, "host": values, "hmac": values, "ids[]": values},
    ).flatmap(
        lambda fixed: st.dictionaries(st.text(max_size=6), values, max_size=3).map(
            lambda extra: {**extra, **fixed}
        )
    )

    @settings(
        max_examples=cases(200),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(path=st.sampled_from(["/auth", "/auth/callback"]), query=params, sign=st.booleans())
    @example(path="/auth/callback", query={"shop": SHOP, "timestamp": "²", "code": "c"}, sign=True)
    @example(path="/auth", query={"shop": SHOP, "timestamp": "9" * 5000}, sign=True)
    def check(path, query, sign):
        pairs = [(k, v) for k, v in query.items() if k != "hmac" or not sign]
        if sign:
            pairs.append(("hmac", query_hmac(API_SECRET, pairs)))
        response = client.get(f"{path}?{urlencode(pairs)}", follow_redirects=False)
        counts = CASE_COUNTS.setdefault(f"OAuth query {path} [{backend}]", {})
        counts["cases"] = counts.get("cases", 0) + 1
        counts[str(response.status_code)] = counts.get(str(response.status_code), 0) + 1
        assert response.status_code < 500, response.text

    check()
