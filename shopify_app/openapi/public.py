"""The public API's part of the OpenAPI document (STOQ compatible: `POST /api/v1/intents.json`),
built from the same pydantic models that validate it."""

from functools import lru_cache
from typing import Any

from pydantic.json_schema import models_json_schema

from ..schemas import IntentPublic, IntentRequest
from .parts import REF


@lru_cache(maxsize=4)
def _schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(IntentRequest, "validation"), (IntentPublic, "serialization")], ref_template=REF
    )
    return top["$defs"]


def _errors_body(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="Errors")}}},
    }


def public_document(app_url: str) -> dict[str, Any]:
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
            "intents": {"type": "array", "items": {"$ref": REF.format(model="IntentPublic")}},
            "errors": {"type": "array", "items": {"type": "string"}},
        },
    }
    intents_response = {
        "application/json": {"schema": {"$ref": REF.format(model="IntentsResponse")}}
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
                                "schema": {"$ref": REF.format(model="IntentRequest")}
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
