"""Shopper pages lead back to the shop (issue 16, item 6): the unsubscribe, unsubscribed, opt-in and
expired-link pages name the shop as Shopify does and link to the product's page (from the variant
cache's handle) and to the storefront, in the shopper's language. A link that is not ours names no
shop: nothing in it says which. Screenshots: tests/artifacts/shopper-*."""

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import insert, update

from shopify_app.app import create_app
from shopify_app.crypto import derive_key
from shopify_app.models import Shop, Variant, utcnow
from shopify_app.notify.render import OPTIN_PURPOSE, optin_token

from ..support import ARTIFACTS, SHOP, api_signup, serve_in_thread, unsubscribe_path

PRODUCT_URL = f"https://{SHOP}/products/linen-shirt?variant=1"


@pytest.fixture
def named_shop(engine, shop):
    """The shop with its Shopify name read, and variant 1 in the cache with its handle."""
    with engine.begin() as connection:
        shop_id = connection.execute(
            update(Shop.__table__).values(name="Linen & Co").returning(Shop.__table__.c.id)
        ).scalar_one()
        connection.execute(
            insert(Variant.__table__).values(
                shop_id=shop_id,
                shopify_variant_id=1,
                shopify_product_id=2,
                product_title="Linen Shirt",
                handle="linen-shirt",
                updated_at=utcnow(),
            )
        )
    return shop


def expired_optin(settings, intent_id: int) -> str:
    class LongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - settings.OPTIN_TOKEN_TTL - 60

    return URLSafeTimedSerializer(
        derive_key(settings.SECRET_KEY, "signing").hex(), salt=OPTIN_PURPOSE, signer=LongAgo
    ).dumps(intent_id)


def test_the_unsubscribe_pages_name_the_shop_and_link_back(client, settings, named_shop):
    intent = api_signup(client, "ann@example.com", 1)
    ask = client.get(unsubscribe_path(settings, intent)).text
    assert "<title>Unsubscribe · Linen &amp; Co</title>" in ask
    assert f'<a href="https://{SHOP}/">Linen &amp; Co</a>' in ask
    assert f'<a href="{PRODUCT_URL}">View Linen Shirt</a>' in ask
    done = client.post(unsubscribe_path(settings, intent), data={"scope": "product"}).text
    assert "You will not get any more alerts about Linen Shirt." in done
    assert f'<a href="{PRODUCT_URL}">View Linen Shirt</a>' in done  # "sign up again": right there
    assert f'<a href="https://{SHOP}/">Continue shopping at Linen &amp; Co</a>' in done


def test_without_the_product_in_the_cache_the_shop_is_still_linked(client, settings, shop):
    intent = api_signup(client, "ann@example.com", 7, locale="de")
    page = client.get(unsubscribe_path(settings, intent)).text
    assert "/products/" not in page  # no handle known: no guessed product link
    assert f'<a href="https://{SHOP}/">Weiter einkaufen bei Demo Shop</a>' in page


def test_an_expired_optin_link_names_the_shop_and_leads_back(client, engine, settings, named_shop):
    with engine.begin() as connection:
        connection.execute(update(Shop.__table__).values(double_optin=True))
    intent = api_signup(client, "ann@example.com", 1, locale="fr")
    page = client.get(f"/optin/{expired_optin(settings, intent)}")
    assert page.status_code == 410 and 'lang="fr"' in page.text
    assert "Ce lien a expiré" in page.text or "expir" in page.text
    assert f'<a href="{PRODUCT_URL}">Voir la page du produit</a>' in page.text
    assert "Linen &amp; Co" in page.text
    fresh = client.get(f"/optin/{optin_token(settings.SECRET_KEY, intent)}").text
    assert f'<a href="{PRODUCT_URL}">Voir Linen Shirt</a>' in fresh


def test_a_link_that_is_not_ours_names_no_shop(client, named_shop):
    page = client.get("/unsubscribe/not.a.token")
    assert page.status_code == 404
    assert "Linen" not in page.text and SHOP not in page.text and "/products/" not in page.text


@pytest.mark.parametrize("width", [1024, 375])
def test_the_unsubscribed_page_in_chromium(width, browser, client, settings, named_shop, backend):
    intent = api_signup(client, "ann@example.com", 1)
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_in_thread(create_app(settings, run_worker=False)) as base:
        page = browser.new_page(viewport={"width": width, "height": 720})
        page.goto(base + unsubscribe_path(settings, intent))
        page.get_by_role("button", name="Unsubscribe").click()
        page.wait_for_selector("text=You are unsubscribed")
        link = page.get_by_role("link", name="View Linen Shirt")
        assert link.is_visible() and link.get_attribute("href") == PRODUCT_URL
        assert page.get_by_role("link", name="Continue shopping at Linen & Co").is_visible()
        page.screenshot(
            path=ARTIFACTS / f"shopper-unsubscribed-{width}-{backend}.png", full_page=True
        )
        page.close()
