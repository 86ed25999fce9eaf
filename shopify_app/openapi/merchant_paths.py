"""The merchant API's paths (STOQ v1 external: `/api/v1/external/...`, routes/merchant_api.py)
in the OpenAPI document, with an example signup as the answers show it."""

from typing import Any

from .parts import ID, UNSENT, answer, bad, body, operation, query

EXAMPLE_INTENT = {
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


_NOTIFY_HOW = (
    "A signup whose alert a restock prepared while the shop's automatic sending was off (held) has that "
    "alert released; a signup still waiting gets an alert written now, as a manual restock event. The "
    "signup is marked notified and the worker sends the alert on its next round."
)
_BODY_PROBLEMS = (
    "The body is not a JSON object, or a field is missing or of the wrong kind (the message "
    "names it)"
)


def merchant_paths() -> dict[str, Any]:
    listed = {
        "intents": [EXAMPLE_INTENT],
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
            "get": operation(
                "listMerchantIntents",
                "The shop's signups, newest first",
                {
                    "200": answer("A page of signups", "IntentPage", listed),
                    "400": bad("A filter's value is not valid (the message names it)"),
                },
                parameters=[
                    query("shopify_variant_id", ID, "Only this variant's signups"),
                    query("shopify_product_id", ID, "Only this product's signups"),
                    query("email", {"type": "string"}, "Only signups with this email (any case)"),
                    query("phone", {"type": "string"}, "Only signups with this phone (E.164)"),
                    query(
                        "start_date",
                        {"type": "string", "format": "date"},
                        "Signups made on or after this day (UTC; an ISO date-time is taken as the instant)",
                    ),
                    query(
                        "end_date",
                        {"type": "string", "format": "date"},
                        "Signups made on or before this day (UTC)",
                    ),
                    query(
                        "notified",
                        {"type": "boolean"},
                        "true: only sent signups; false: only unsent ones. " + UNSENT,
                    ),
                    query(
                        "page",
                        {"type": "integer", "minimum": 1, "default": 1},
                        "Page number; past the end, no intents",
                    ),
                    query(
                        "per_page",
                        {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                        "Intents per page",
                    ),
                ],
            )
        },
        "/external/intents/{id}": {
            "get": operation(
                "getMerchantIntent",
                "One of the shop's signups",
                {
                    "200": answer("The signup", "IntentEnvelope", {"intent": EXAMPLE_INTENT}),
                    "404": answer(
                        "No such signup in this shop",
                        "MerchantError",
                        {"error": "Intent not found"},
                    ),
                },
                parameters=[{"in": "path", "name": "id", "required": True, "schema": ID}],
            )
        },
        "/external/intents/notify_intent": {
            "post": operation(
                "notifyMerchantIntent",
                "Send the back-in-stock alert now (queued for the sender at once)",
                {
                    "200": answer(
                        "The alert is queued; the signup is marked notified",
                        "IntentEnvelope",
                        {"intent": {**EXAMPLE_INTENT, "status": "notified"}},
                    ),
                    "400": bad(_BODY_PROBLEMS),
                    "404": answer(
                        "No such signup in this shop",
                        "MerchantError",
                        {"error": "Intent not found"},
                    ),
                    "413": bad("The body is too large"),
                    "422": answer(
                        "The signup cannot be alerted (already notified without allow_resend, its alert "
                        "still waiting to be sent, unsubscribed, awaiting opt-in, cancelled)",
                        "MerchantError",
                        {
                            "error": "Intent has already been notified; set allow_resend to send again"
                        },
                    ),
                },
                requestBody=body("NotifyIntent", {"id": 1042, "allow_resend": False}),
                description=_NOTIFY_HOW,
            )
        },
        "/external/intents/bulk_notify_intent": {
            "post": operation(
                "bulkNotifyMerchantIntents",
                "Send the alerts of several signups now",
                {
                    "200": answer(
                        "Every alert is queued",
                        "BulkResult",
                        {"success": [1042, 1043], "failed": []},
                    ),
                    "207": answer(
                        "Some alerts are queued, some not (each with its reason)",
                        "BulkResult",
                        bulk,
                    ),
                    "400": bad(_BODY_PROBLEMS),
                    "413": bad("The body is too large"),
                    "422": answer(
                        "No alert could be queued",
                        "BulkResult",
                        {"success": [], "failed": bulk["failed"]},
                    ),
                },
                requestBody=body(
                    "BulkNotifyIntents", {"intent_ids": [1042, 1043], "allow_resend": False}
                ),
                description=_NOTIFY_HOW,
            )
        },
        "/external/intents/bulk_destroy": {
            "delete": operation(
                "bulkDestroyMerchantIntents",
                "Delete unsent signups",
                {
                    "200": answer(
                        "The shop's unsent signups among the ids are deleted; ids not in the shop are "
                        "listed as not found",
                        "DestroyResult",
                        {"deleted": [1042], "not_found": [9]},
                    ),
                    "400": bad(_BODY_PROBLEMS),
                    "413": bad("The body is too large"),
                    "422": answer(
                        "Some ids are of signups already alerted: nothing was deleted",
                        "DestroyRefused",
                        {
                            "error": "Only unsent intents can be deleted; nothing was deleted",
                            "sent_intent_ids": [1043],
                        },
                    ),
                },
                requestBody=body("IntentIds", {"intent_ids": [1042, 1043]}),
                description=UNSENT,
            )
        },
        "/external/intents/transfer_signups": {
            "post": operation(
                "transferMerchantSignups",
                "Move signups from one variant to another",
                {
                    "200": answer(
                        "Signups moved. A waiting signup whose twin (same contact, channel and market) "
                        "already waits on the target variant is cancelled instead, and listed",
                        "TransferResult",
                        {"transferred_count": 12, "duplicates_cancelled": [1050]},
                    ),
                    "400": bad(_BODY_PROBLEMS),
                    "409": answer(
                        "Signups changed during the transfer; nothing moved, try again",
                        "MerchantError",
                        {"error": "Signups changed during the transfer; please try again"},
                    ),
                    "413": bad("The body is too large"),
                },
                requestBody=body(
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
