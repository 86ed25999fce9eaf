"""The Admin GraphQL client against the fake Shopify: retries on THROTTLED, 429 and 5xx with the
wait read from the response; every document validated against the schema."""

import asyncio

import httpx
import pytest

from shopify_app import inventory_queries
from shopify_app.shopify_graphql import AdminApi, AdminApiError, RetryableApiError

from .fakes.admin_schema import API_VERSION, schema_path, validation_errors
from .fakes.shopify import CatalogItem

SHOP = "api-shop.myshopify.com"


def app_documents() -> dict[str, str]:
    """Every GraphQL document the app can send: each module-level string of the package that reads
    as one (so a new query is checked without anyone listing it here). Fragments are checked as
    parts of the documents that use them."""
    import importlib
    import pkgutil

    import shopify_app

    found = {}
    for module in pkgutil.walk_packages(shopify_app.__path__, "shopify_app."):
        if module.name.endswith("__main__"):
            continue
        loaded = importlib.import_module(module.name)
        for name, value in vars(loaded).items():
            operation = isinstance(value, str) and ("query " in value or "mutation " in value)
            if operation and value.lstrip().startswith(("query ", "mutation ", "fragment ")):
                found[f"{module.name}.{name}"] = value
    return found


DOCUMENTS = app_documents()


def test_the_app_sends_documents_and_the_schema_is_the_apps_version():
    assert {
        "shopify_app.inventory_queries.ITEM_QUERY",
        "shopify_app.inventory_queries.VARIANTS_QUERY",
        "shopify_app.notify.merchant.SHOP_CONTACT_QUERY",
    } <= set(DOCUMENTS)
    assert (
        API_VERSION == "2026-10" and schema_path().is_file()
    )  # kept in the repository: no ../shared needed


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_document_is_valid_against_the_admin_schema_without_deprecated_fields(name):
    assert validation_errors(DOCUMENTS[name]) == []


def test_a_deprecated_field_is_refused():
    errors = validation_errors(
        'query { inventoryItem(id: "gid://shopify/InventoryItem/1") { variant { id } } }'
    )
    assert errors and "deprecated" in errors[0] and "variant" in errors[0]


def _call(settings, fake, document, variables, waits):
    async def sleep(seconds):
        waits.append(seconds)

    async def go():
        async with httpx.AsyncClient() as http:
            return await AdminApi(http, settings, SHOP, "tok", sleep=sleep).query(
                document, variables
            )

    return asyncio.run(go())


@pytest.fixture
def api_settings(fake_shopify):
    from shopify_app.config import Settings

    fake_shopify.reset()
    fake_shopify.tokens[SHOP] = "tok"
    fake_shopify.add_item(CatalogItem(11, 22, 33, levels={1: 4, 2: None}))
    return Settings(
        SHOPIFY_ADMIN_BASE_URL=fake_shopify.base_url + "/{shop}", SHOPIFY_HTTP_TIMEOUT=2
    )


def test_item_query_resolves_the_variant_and_its_levels(api_settings, fake_shopify):
    data = _call(
        api_settings,
        fake_shopify,
        inventory_queries.ITEM_QUERY,
        {"id": inventory_queries.gid("InventoryItem", 11)},
        [],
    )
    stock = inventory_queries.parse_item_stock(data)
    assert stock.variant.shopify_variant_id == 22 and stock.variant.shopify_product_id == 33
    assert stock.variant.handle == "linen-shirt" and stock.variant.price == "49.00"
    assert [(lv.location_id, lv.available) for lv in stock.levels] == [(1, 4), (2, None)]
    [call] = fake_shopify.graphql_calls
    assert call["token"] == "tok" and call["errors"] == []


def test_retries_read_the_wait_from_the_response(api_settings, fake_shopify):
    fake_shopify.graphql_failures[:] = ["THROTTLED", 429, 503]
    waits: list[float] = []
    data = _call(
        api_settings,
        fake_shopify,
        inventory_queries.ITEM_QUERY,
        {"id": inventory_queries.gid("InventoryItem", 11)},
        waits,
    )
    assert data["inventoryItem"]["legacyResourceId"] == "11"
    assert len(fake_shopify.graphql_calls) == 4 and len(waits) == 3
    # THROTTLED: (12 requested - 2 available) / 100 per second = 0.1 s; 429: Retry-After 0.1 s
    assert 0.1 <= waits[0] <= 0.11 and 0.1 <= waits[1] <= 0.11 and waits[2] >= 1.0


def test_gives_up_after_repeated_failures(api_settings, fake_shopify):
    fake_shopify.graphql_failures[:] = [500] * 10
    with pytest.raises(RetryableApiError):
        _call(
            api_settings,
            fake_shopify,
            inventory_queries.ITEM_QUERY,
            {"id": inventory_queries.gid("InventoryItem", 11)},
            [],
        )
    assert len(fake_shopify.graphql_calls) == 5


def test_bad_token_and_bad_query_fail_without_retrying(api_settings, fake_shopify):
    fake_shopify.tokens[SHOP] = "other"
    with pytest.raises(AdminApiError, match="401"):
        _call(
            api_settings,
            fake_shopify,
            inventory_queries.ITEM_QUERY,
            {"id": inventory_queries.gid("InventoryItem", 11)},
            [],
        )
    fake_shopify.tokens[SHOP] = "tok"
    with pytest.raises(AdminApiError, match="GraphQL errors"):
        _call(api_settings, fake_shopify, "query { shop { nope } }", {}, [])
    assert len(fake_shopify.graphql_calls) == 2


def test_unreachable_shopify_is_retryable(api_settings):
    settings = api_settings.model_copy(
        update={"SHOPIFY_ADMIN_BASE_URL": "http://127.0.0.1:1/{shop}"}
    )
    with pytest.raises(RetryableApiError):
        _call(settings, None, inventory_queries.ITEM_QUERY, {"id": "x"}, [])
