"""Development only (`APP_ENV=development`; 404 otherwise): a local storefront that renders the
theme app extension's real block, and a stand-in for Shopify's app proxy that signs each request
as Shopify does and forwards it to `/proxy/...`."""

from starlette.applications import Starlette

routes: list = []


async def on_startup(app: Starlette) -> None:
    """Called by the lifespan in development: create the demo shop and its products."""
