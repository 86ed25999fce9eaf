"""Shopify's Admin GraphQL schema from ../shared/shopify/, when present, to validate every
document the app sends."""

import json
from functools import lru_cache
from pathlib import Path

import graphql

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "shared" / "shopify"


@lru_cache(maxsize=1)
def admin_schema() -> graphql.GraphQLSchema | None:
    files = sorted(SCHEMA_DIR.glob("admin_schema_*.json"))
    if not files:
        return None
    return graphql.build_client_schema(json.loads(files[-1].read_text())["data"])


def validation_errors(document: str) -> list[str]:
    schema = admin_schema()
    if schema is None:
        return []
    try:
        parsed = graphql.parse(document)
    except graphql.GraphQLError as exc:
        return [str(exc)]
    return [e.message for e in graphql.validate(schema, parsed)]
