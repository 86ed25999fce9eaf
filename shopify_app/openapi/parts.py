"""The pieces the OpenAPI document's parts share: schema references, the merchant API's answers
(with their rate-limit headers), operations, query parameters, and the id schemas."""

from typing import Any

from ..coerce import ID_MAX

REF = "#/components/schemas/{model}"

RATE_HEADERS = {
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

ID = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
IDS = {"type": "array", "items": ID, "minItems": 1, "maxItems": 500}
UNSENT = (
    "Unsent: no alert was ever released for the signup (still waiting, held for the merchant, or unsubscribed "
    "or cancelled before any alert); sent: one was (queued, delivered or failed). The admin's delete uses the "
    "same rule."
)


def ref(model: str) -> dict[str, str]:
    return {"$ref": REF.format(model=model)}


def answer(
    description: str, model: str, example: Any = None, *, rated: bool = True
) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": ref(model)}
    if example is not None:
        content["example"] = example
    result: dict[str, Any] = {"description": description, "content": {"application/json": content}}
    if rated:
        result["headers"] = dict(RATE_HEADERS)
    return result


def _common_answers() -> dict[str, Any]:
    return {
        "401": answer(
            "Missing or unknown X-Auth-Token",
            "MerchantError",
            {"error": "Missing or invalid X-Auth-Token"},
            rated=False,
        ),
        "429": {
            **answer(
                "Rate limit exceeded (360 points per 60 s per shop; a GET costs 1, other requests 2)",
                "RateLimited",
                {
                    "error": "Rate limit exceeded",
                    "retry_after": 12,
                    "message": "This shop may spend 360 points per 60 seconds ...",
                },
            ),
            "headers": {
                **RATE_HEADERS,
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"},
            },
        },
    }


def bad(description: str) -> dict[str, Any]:
    return answer(
        description, "MerchantError", {"error": "per_page must be a whole number from 1 to 500"}
    )


def body(model: str, example: Any) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": ref(model), "example": example}},
    }


def operation(
    operation_id: str, summary: str, answers: dict[str, Any], **more: Any
) -> dict[str, Any]:
    """A merchant API operation: its answers plus the 401 and 429 every one of them can give."""
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["merchant"],
        "security": [{"merchantApiKey": []}],
        "responses": {**answers, **_common_answers()},
        **more,
    }


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "in": "query",
        "name": name,
        "required": False,
        "schema": schema,
        "description": description,
    }
