"""The app's OpenAPI document (`GET /api/v1/openapi.json`): the public API's part (public.py),
with the merchant API's paths (merchant_paths.py), schemas (merchant_schemas.py) and its
`X-Auth-Token` security scheme added; parts.py holds the pieces they share."""

from typing import Any

from .merchant_paths import merchant_paths
from .merchant_schemas import merchant_schemas
from .public import public_document

__all__ = ["openapi_document"]


def openapi_document(app_url: str) -> dict[str, Any]:
    return _merchant_document(public_document(app_url))


def _merchant_document(document: dict[str, Any]) -> dict[str, Any]:
    """The merchant API's paths (STOQ v1 external), added to the document with their schemas and
    the `X-Auth-Token` security scheme."""
    document["paths"].update(merchant_paths())
    document["components"]["schemas"].update(merchant_schemas())
    document["components"]["securitySchemes"] = {
        "merchantApiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Auth-Token",
            "description": "The shop's merchant API key (admin Settings, or `shopify-app api-key`)",
        },
    }
    document["info"]["title"] = "Back-in-stock alerts: public API and merchant API"
    return document
