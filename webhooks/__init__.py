"""One module per webhook topic, named after it. Each subscription in shopify.app.toml points at
`/webhooks/{topic}`; tests/test_consistency.py checks that every one has a route here."""

from starlette.routing import Mount, Route

from . import (
    app_uninstalled,
    customers_data_request,
    customers_redact,
    inventory_levels_update,
    orders_create,
    products_update,
    shop_redact,
)

HANDLERS = {
    module.TOPIC: module.handle
    for module in (
        app_uninstalled,
        customers_data_request,
        customers_redact,
        inventory_levels_update,
        orders_create,
        products_update,
        shop_redact,
    )
}

routes = [
    Mount(
        "/webhooks",
        routes=[Route(f"/{topic}", handle, methods=["POST"]) for topic, handle in HANDLERS.items()],
    )
]
