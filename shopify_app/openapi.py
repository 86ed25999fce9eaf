"""The OpenAPI document of the public API, built from the same pydantic models that validate it."""

from functools import lru_cache
from typing import Any

from pydantic.json_schema import models_json_schema

from .coerce import ID_MAX
from .schemas import IntentPublic, IntentRequest

_REF = "#/components/schemas/{model}"


@lru_cache(maxsize=4)
def _schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(IntentRequest, "validation"), (IntentPublic, "serialization")], ref_template=_REF
    )
    return top["$defs"]


def _errors_body(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model="Errors")}}},
    }


def openapi_document(app_url: str) -> dict[str, Any]:
    return _merchant_document(_public_document(app_url))


def _public_document(app_url: str) -> dict[str, Any]:
    schemas = dict(_schemas())
    schemas["Errors"] = {
        "type": "object",
        "required": ["errors"],
        "properties": {"errors": {"type": "array", "items": {"type": "string"}}},
    }
    schemas["IntentsResponse"] = {
        "type": "object",
        "required": ["intents", "errors"],
        "properties": {
            "intents": {"type": "array", "items": {"$ref": _REF.format(model="IntentPublic")}},
            "errors": {"type": "array", "items": {"type": "string"}},
        },
    }
    intents_response = {
        "application/json": {"schema": {"$ref": _REF.format(model="IntentsResponse")}}
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Back-in-stock alerts: public API", "version": "1.0.0"},
        "servers": [{"url": f"{app_url}/api/v1"}],
        "paths": {
            "/intents.json": {
                "post": {
                    "operationId": "createIntent",
                    "summary": "Ask to be told when a variant is back in stock (STOQ compatible)",
                    "parameters": [
                        {
                            "in": "header",
                            "name": "X-Shopify-Shop-Domain",
                            "required": True,
                            "schema": {
                                "type": "string",
                                "pattern": r"^[a-z0-9][a-z0-9-]*[a-z0-9]\.myshopify\.com$",
                            },
                            "description": "The shop, e.g. my-store.myshopify.com; it must have the app installed",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": _REF.format(model="IntentRequest")}
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Signup stored, or the pending one it repeats (same shop, variant, market, channel "
                            "and address). The answer holds only what the request sent about "
                            "the shopper; customer_id only for whoever created the customer or "
                            "sent its id",
                            "content": intents_response,
                        },
                        "200": {
                            "description": "Well-formed, but could not be honoured; nothing stored",
                            "content": intents_response,
                        },
                        "400": _errors_body(
                            "The body is not JSON (Content-Type must be application/json or absent) "
                            "or does not fit the schema; each problem named in plain words"
                        ),
                        "401": _errors_body("Missing, malformed or unknown shop"),
                        "413": _errors_body("The body is larger than 64 KB"),
                        "429": {
                            **_errors_body(
                                "Too many signups from this address, or for this contact; nothing "
                                "stored. Retry-After says when to try again"
                            ),
                            "headers": {
                                "Retry-After": {
                                    "schema": {"type": "integer"},
                                    "description": "Seconds to wait",
                                }
                            },
                        },
                    },
                }
            }
        },
        "components": {"schemas": schemas},
    }


def _merchant_document(document: dict[str, Any]) -> dict[str, Any]:
    """The merchant API's paths (STOQ v1 external), added to the document with their schemas and
    the `X-Auth-Token` security scheme."""
    document["paths"].update(_merchant_paths())
    document["components"]["schemas"].update(_merchant_schemas())
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


# -- The merchant API (`/api/v1/external/...`, routes/merchant_api.py) --------------------------------

_RATE_HEADERS = {
    "X-RateLimit-Limit": {
        "schema": {"type": "integer"},
        "description": "Points per window (360 per 60 s by default)",
    },
    "X-RateLimit-Remaining": {
        "schema": {"type": "integer"},
        "description": "Points left in this window",
    },
    "X-RateLimit-Reset": {
        "schema": {"type": "integer"},
        "description": "Unix time at which the window ends",
    },
}
_EXAMPLE_INTENT = {
    "id": 1042,
    "type": "back_in_stock",
    "channel": "email",
    "contact": "shopper@example.com",
    "email": "shopper@example.com",
    "phone": None,
    "quantity": 1,
    "source": "api",
    "status": "pending",
    "optin_confirmed": True,
    "accepts_marketing": False,
    "blocked_at": None,
    "notified_at": None,
    "unsubscribed_at": None,
    "customer_unsubscribed_at": None,
    "sent_notifications_count": 0,
    "notifications_count": 0,
    "customer_id": "6f1c1f1e-2b7c-4c55-9a55-0d2f4f0f6a11",
    "customer_name": "Sam",
    "shop_id": 1,
    "product_variant_id": None,
    "shopify_variant_id": 44123456789,
    "shopify_product_id": 8123456789,
    "shopify_market_id": None,
    "shopify_inventory_item_id": 46123456789,
    "product_title": "Shirt",
    "variant_title": "Green",
    "created_at": "2026-01-05T10:00:00Z",
    "updated_at": "2026-01-05T10:00:00Z",
}


def _ref(model: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=model)}


def _answer(
    description: str, model: str, example: Any = None, *, rated: bool = True
) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": _ref(model)}
    if example is not None:
        content["example"] = example
    answer: dict[str, Any] = {"description": description, "content": {"application/json": content}}
    if rated:
        answer["headers"] = dict(_RATE_HEADERS)
    return answer


def _common_answers() -> dict[str, Any]:
    return {
        "401": _answer(
            "Missing or unknown X-Auth-Token",
            "MerchantError",
            {"error": "Missing or invalid X-Auth-Token"},
            rated=False,
        ),
        "429": {
            **_answer(
                "Rate limit exceeded (360 points per 60 s per shop; a GET costs 1, other requests 2)",
                "RateLimited",
                {
                    "error": "Rate limit exceeded",
                    "retry_after": 12,
                    "message": "This shop may spend 360 points per 60 seconds ...",
                },
            ),
            "headers": {
                **_RATE_HEADERS,
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"},
            },
        },
    }


def _bad(description: str) -> dict[str, Any]:
    return _answer(
        description, "MerchantError", {"error": "per_page must be a whole number from 1 to 500"}
    )


def _body(model: str, example: Any) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": _ref(model), "example": example}},
    }


def _operation(
    operation_id: str, summary: str, answers: dict[str, Any], **more: Any
) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["merchant"],
        "security": [{"merchantApiKey": []}],
        "responses": {**answers, **_common_answers()},
        **more,
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "in": "query",
        "name": name,
        "required": False,
        "schema": schema,
        "description": description,
    }


_NOTIFY_HOW = (
    "A signup whose alert a restock prepared while the shop's automatic sending was off (held) has that "
    "alert released; a signup still waiting gets an alert written now, as a manual restock event. The "
    "signup is marked notified and the worker sends the alert on its next round."
)
_UNSENT = (
    "Unsent: no alert was ever released for the signup (still waiting, held for the merchant, or unsubscribed "
    "or cancelled before any alert); sent: one was (queued, delivered or failed). The admin's delete uses the "
    "same rule."
)
_ID = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
_IDS = {"type": "array", "items": _ID, "minItems": 1, "maxItems": 500}
_BODY_PROBLEMS = (
    "The body is not a JSON object, or a field is missing or of the wrong kind (the message "
    "names it)"
)


def _merchant_paths() -> dict[str, Any]:
    listed = {
        "intents": [_EXAMPLE_INTENT],
        "meta": {"total_count": 1, "page": 1, "per_page": 50, "total_pages": 1},
    }
    bulk = {
        "success": [1042],
        "failed": [
            {
                "intent_id": 1043,
                "error": "Intent has already been notified; set allow_resend to send again",
            }
        ],
    }
    return {
        "/external/intents": {
            "get": _operation(
                "listMerchantIntents",
                "The shop's signups, newest first",
                {
                    "200": _answer("A page of signups", "IntentPage", listed),
                    "400": _bad("A filter's value is not valid (the message names it)"),
                },
                parameters=[
                    _query("shopify_variant_id", _ID, "Only this variant's signups"),
                    _query("shopify_product_id", _ID, "Only this product's signups"),
                    _query("email", {"type": "string"}, "Only signups with this email (any case)"),
                    _query("phone", {"type": "string"}, "Only signups with this phone (E.164)"),
                    _query(
                        "start_date",
                        {"type": "string", "format": "date"},
                        "Signups made on or after this day (UTC; an ISO date-time is taken as the instant)",
                    ),
                    _query(
                        "end_date",
                        {"type": "string", "format": "date"},
                        "Signups made on or before this day (UTC)",
                    ),
                    _query(
                        "notified",
                        {"type": "boolean"},
                        "true: only sent signups; false: only unsent ones. " + _UNSENT,
                    ),
                    _query(
                        "page",
                        {"type": "integer", "minimum": 1, "default": 1},
                        "Page number; past the end, no intents",
                    ),
                    _query(
                        "per_page",
                        {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                        "Intents per page",
                    ),
                ],
            )
        },
        "/external/intents/{id}": {
            "get": _operation(
                "getMerchantIntent",
                "One of the shop's signups",
                {
                    "200": _answer("The signup", "IntentEnvelope", {"intent": _EXAMPLE_INTENT}),
                    "404": _answer(
                        "No such signup in this shop",
                        "MerchantError",
                        {"error": "Intent not found"},
                    ),
                },
                parameters=[{"in": "path", "name": "id", "required": True, "schema": _ID}],
            )
        },
        "/external/intents/notify_intent": {
            "post": _operation(
                "notifyMerchantIntent",
                "Send the back-in-stock alert now (queued for the sender at once)",
                {
                    "200": _answer(
                        "The alert is queued; the signup is marked notified",
                        "IntentEnvelope",
                        {"intent": {**_EXAMPLE_INTENT, "status": "notified"}},
                    ),
                    "400": _bad(_BODY_PROBLEMS),
                    "404": _answer(
                        "No such signup in this shop",
                        "MerchantError",
                        {"error": "Intent not found"},
                    ),
                    "413": _bad("The body is too large"),
                    "422": _answer(
                        "The signup cannot be alerted (already notified without allow_resend, its alert "
                        "still waiting to be sent, unsubscribed, awaiting opt-in, cancelled)",
                        "MerchantError",
                        {
                            "error": "Intent has already been notified; set allow_resend to send again"
                        },
                    ),
                },
                requestBody=_body("NotifyIntent", {"id": 1042, "allow_resend": False}),
                description=_NOTIFY_HOW,
            )
        },
        "/external/intents/bulk_notify_intent": {
            "post": _operation(
                "bulkNotifyMerchantIntents",
                "Send the alerts of several signups now",
                {
                    "200": _answer(
                        "Every alert is queued",
                        "BulkResult",
                        {"success": [1042, 1043], "failed": []},
                    ),
                    "207": _answer(
                        "Some alerts are queued, some not (each with its reason)",
                        "BulkResult",
                        bulk,
                    ),
                    "400": _bad(_BODY_PROBLEMS),
                    "413": _bad("The body is too large"),
                    "422": _answer(
                        "No alert could be queued",
                        "BulkResult",
                        {"success": [], "failed": bulk["failed"]},
                    ),
                },
                requestBody=_body(
                    "BulkNotifyIntents", {"intent_ids": [1042, 1043], "allow_resend": False}
                ),
                description=_NOTIFY_HOW,
            )
        },
        "/external/intents/bulk_destroy": {
            "delete": _operation(
                "bulkDestroyMerchantIntents",
                "Delete unsent signups",
                {
                    "200": _answer(
                        "The shop's unsent signups among the ids are deleted; ids not in the shop are "
                        "listed as not found",
                        "DestroyResult",
                        {"deleted": [1042], "not_found": [9]},
                    ),
                    "400": _bad(_BODY_PROBLEMS),
                    "413": _bad("The body is too large"),
                    "422": _answer(
                        "Some ids are of signups already alerted: nothing was deleted",
                        "DestroyRefused",
                        {
                            "error": "Only unsent intents can be deleted; nothing was deleted",
                            "sent_intent_ids": [1043],
                        },
                    ),
                },
                requestBody=_body("IntentIds", {"intent_ids": [1042, 1043]}),
                description=_UNSENT,
            )
        },
        "/external/intents/transfer_signups": {
            "post": _operation(
                "transferMerchantSignups",
                "Move signups from one variant to another",
                {
                    "200": _answer(
                        "Signups moved. A waiting signup whose twin (same contact, channel and market) "
                        "already waits on the target variant is cancelled instead, and listed",
                        "TransferResult",
                        {"transferred_count": 12, "duplicates_cancelled": [1050]},
                    ),
                    "400": _bad(_BODY_PROBLEMS),
                    "409": _answer(
                        "Signups changed during the transfer; nothing moved, try again",
                        "MerchantError",
                        {"error": "Signups changed during the transfer; please try again"},
                    ),
                    "413": _bad("The body is too large"),
                },
                requestBody=_body(
                    "TransferSignups",
                    {
                        "from_shopify_variant_id": 44123456789,
                        "from_shopify_product_id": 8123456789,
                        "to_shopify_variant_id": 44123456790,
                        "to_shopify_product_id": 8123456789,
                        "intent_type": "unsent",
                    },
                ),
            )
        },
    }


def _merchant_schemas() -> dict[str, Any]:
    error: dict[str, Any] = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    }
    return {
        "MerchantError": error,
        "RateLimited": {
            "type": "object",
            "required": ["error", "retry_after", "message"],
            "properties": {
                "error": {"type": "string", "const": "Rate limit exceeded"},
                "retry_after": {"type": "integer"},
                "message": {"type": "string"},
            },
        },
        "IntentPage": {
            "type": "object",
            "required": ["intents", "meta"],
            "properties": {
                "intents": {"type": "array", "items": _ref("IntentPublic")},
                "meta": {
                    "type": "object",
                    "required": ["total_count", "page", "per_page", "total_pages"],
                    "properties": {
                        k: {"type": "integer"}
                        for k in ("total_count", "page", "per_page", "total_pages")
                    },
                },
            },
        },
        "IntentEnvelope": {
            "type": "object",
            "required": ["intent"],
            "properties": {"intent": _ref("IntentPublic")},
        },
        "NotifyIntent": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": _ID, "allow_resend": {"type": "boolean", "default": False}},
        },
        "BulkNotifyIntents": {
            "type": "object",
            "required": ["intent_ids"],
            "properties": {
                "intent_ids": _IDS,
                "allow_resend": {"type": "boolean", "default": False},
            },
        },
        "IntentIds": {
            "type": "object",
            "required": ["intent_ids"],
            "properties": {"intent_ids": _IDS},
        },
        "BulkResult": {
            "type": "object",
            "required": ["success", "failed"],
            "properties": {
                "success": {"type": "array", "items": {"type": "integer"}},
                "failed": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["intent_id", "error"],
                        "properties": {
                            "intent_id": {"type": "integer"},
                            "error": {"type": "string"},
                        },
                    },
                },
            },
        },
        "DestroyResult": {
            "type": "object",
            "required": ["deleted", "not_found"],
            "properties": {
                "deleted": {"type": "array", "items": {"type": "integer"}},
                "not_found": {"type": "array", "items": {"type": "integer"}},
            },
        },
        "DestroyRefused": {
            **error,
            "required": ["error", "sent_intent_ids"],
            "properties": {
                **error["properties"],
                "sent_intent_ids": {"type": "array", "items": {"type": "integer"}},
            },
        },
        "TransferSignups": {
            "type": "object",
            "required": [
                "from_shopify_variant_id",
                "to_shopify_variant_id",
                "to_shopify_product_id",
            ],
            "properties": {
                "from_shopify_variant_id": _ID,
                "from_shopify_product_id": _ID,
                "to_shopify_variant_id": _ID,
                "to_shopify_product_id": _ID,
                "intent_type": {
                    "type": "string",
                    "enum": ["unsent", "sent", "all"],
                    "default": "unsent",
                    "description": _UNSENT,
                },
            },
        },
        "TransferResult": {
            "type": "object",
            "required": ["transferred_count", "duplicates_cancelled"],
            "properties": {
                "transferred_count": {"type": "integer"},
                "duplicates_cancelled": {"type": "array", "items": {"type": "integer"}},
            },
        },
    }
