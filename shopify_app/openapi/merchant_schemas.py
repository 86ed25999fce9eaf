"""The merchant API's schemas in the OpenAPI document: its bodies, answers and errors."""

from typing import Any

from .parts import ID, IDS, UNSENT, ref


def merchant_schemas() -> dict[str, Any]:
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
                "intents": {"type": "array", "items": ref("IntentPublic")},
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
            "properties": {"intent": ref("IntentPublic")},
        },
        "NotifyIntent": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": ID, "allow_resend": {"type": "boolean", "default": False}},
        },
        "BulkNotifyIntents": {
            "type": "object",
            "required": ["intent_ids"],
            "properties": {
                "intent_ids": IDS,
                "allow_resend": {"type": "boolean", "default": False},
            },
        },
        "IntentIds": {
            "type": "object",
            "required": ["intent_ids"],
            "properties": {"intent_ids": IDS},
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
                "from_shopify_variant_id": ID,
                "from_shopify_product_id": ID,
                "to_shopify_variant_id": ID,
                "to_shopify_product_id": ID,
                "intent_type": {
                    "type": "string",
                    "enum": ["unsent", "sent", "all"],
                    "default": "unsent",
                    "description": UNSENT,
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
