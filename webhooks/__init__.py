"""One module per webhook topic, named after it. Each subscription in shopify.app.toml points at
`/webhooks/{topic}`; tests/test_consistency.py checks that every one has a route here."""

from starlette.routing import Mount, Route

from . import app_uninstalled

HANDLERS = {
    app_uninstalled.TOPIC: app_uninstalled.handle,
}

routes = [Mount("/webhooks", routes=[Route(f"/{topic}", handle, methods=["POST"]) for topic, handle in HANDLERS.items()])]
