"""Shopify's Admin GraphQL schema at the app's API version, from the copy kept in the repository
(`tests/contracts/shopify_admin_<version>.json.gz`: Shopify's published introspection result, its
`data` only), to validate every document the app sends. A document that uses a field the schema
deprecates is refused too: deprecated fields are the next version's removals."""

import gzip
import json
from functools import lru_cache
from pathlib import Path

import graphql
from graphql.validation import NoDeprecatedCustomRule, specified_rules

from shopify_app.config import Settings

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
API_VERSION = Settings.model_fields["SHOPIFY_API_VERSION"].default


def schema_path(version: str = API_VERSION) -> Path:
    return CONTRACTS / f"shopify_admin_{version}.json.gz"


@lru_cache(maxsize=2)
def admin_schema(version: str = API_VERSION) -> graphql.GraphQLSchema:
    with gzip.open(schema_path(version), "rt", encoding="utf-8") as f:
        schema = graphql.build_client_schema(json.load(f)["data"])
    graphql.validate(
        schema, graphql.parse("{ __typename }")
    )  # the first validation checks the whole schema (~1 s)
    return schema


def validation_errors(document: str, version: str = API_VERSION) -> list[str]:
    try:
        parsed = graphql.parse(document)
    except graphql.GraphQLError as exc:
        return [str(exc)]
    rules = [*specified_rules, NoDeprecatedCustomRule]
    return [e.message for e in graphql.validate(admin_schema(version), parsed, rules)]


# Fields Shopify serves only with a scope beyond the one that reaches their object: every Location
# field but `id` needs read_locations (since 2024-07; `id` alone is open to read_inventory).
SCOPED_FIELDS = {"Location": ("read_locations", {"id", "__typename"})}
# Single fields behind their own scope.
FIELD_SCOPES = {
    ("QueryRoot", "markets"): "read_markets",
    ("QueryRoot", "deliveryProfiles"): "read_shipping",
}


def scope_errors(document: str, granted: str, version: str = API_VERSION) -> list[str]:
    """ACCESS_DENIED messages, as Shopify words them, for fields the granted scopes do not open."""
    from shopify_app.shops import missing_scopes

    schema = admin_schema(version)
    info = graphql.TypeInfo(schema)
    denied: list[str] = []

    class Check(graphql.Visitor):
        def enter_field(self, node, *_):
            parent = info.get_parent_type()
            rule = SCOPED_FIELDS.get(parent.name) if parent is not None else None
            own = FIELD_SCOPES.get((parent.name, node.name.value)) if parent is not None else None
            if own is not None:
                rule = (own, set())
            if rule and node.name.value not in rule[1] and missing_scopes(granted, [rule[0]]):
                denied.append(
                    f"Access denied for {node.name.value} field. Required access: "
                    f"`{rule[0]}` access scope."
                )

    graphql.visit(graphql.parse(document), graphql.TypeInfoVisitor(info, Check()))
    return denied
