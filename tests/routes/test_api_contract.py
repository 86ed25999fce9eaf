"""The public API against its contracts, with generated cases (schemathesis): STOQ's published
OpenAPI document and the app's own `GET /api/v1/openapi.json`. Every case must answer without a
server error, with a documented status code and a body that fits the documented schema."""

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from shopify_app.openapi import openapi_document

from ..support import CASE_COUNTS, SCHEMATHESIS_PHASES, cases

SHOP = "demo-shop.myshopify.com"
CASES = cases(1000)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# STOQ's published document, kept in the repository (a copy of ../shared/contracts/).
STOQ_DOCUMENT = Path(__file__).resolve().parents[1] / "contracts" / "stoq-intents.openapi.json"

OURS = schemathesis.openapi.from_dict(
    json.loads(json.dumps(openapi_document("https://app.example.test")))
)
STOQ = schemathesis.openapi.from_path(str(STOQ_DOCUMENT))
for schema in (OURS, STOQ):
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=CASES,
        database="none",
    )
    schema.config.phases.update(phases=SCHEMATHESIS_PHASES)


def _call(case, client, counts: dict[str, int], *, shop: str = SHOP):
    kwargs = case.as_transport_kwargs(base_url="https://app.example.test/api/v1")
    headers = {
        k: v
        for k, v in (kwargs.get("headers") or {}).items()
        if k.lower() != "x-shopify-shop-domain"
    }
    headers["X-Shopify-Shop-Domain"] = (
        shop  # a shop with the app installed, so the body is what is tested
    )
    if "json" in kwargs:
        content = json.dumps(kwargs["json"]).encode()
    else:
        content = kwargs.get("content") or kwargs.get("data")
    response = client.request(
        kwargs["method"],
        kwargs["url"],
        headers=headers,
        params=kwargs.get("params"),
        content=content,
    )
    counts[str(response.status_code)] = counts.get(str(response.status_code), 0) + 1
    counts["cases"] = counts.get("cases", 0) + 1
    case.validate_response(response, checks=CHECKS)


@OURS.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_the_apps_own_openapi_document_holds(case, client, shop, backend):
    _call(
        case, client, CASE_COUNTS.setdefault(f"own OpenAPI {case.operation.label} [{backend}]", {})
    )


@STOQ.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_stoqs_published_contract_holds(case, client, shop, backend):
    _call(
        case, client, CASE_COUNTS.setdefault(f"STOQ OpenAPI {case.operation.label} [{backend}]", {})
    )


def test_enough_cases_were_generated():
    """Runs after the contract tests in this module (pytest keeps file order)."""
    ran = {name: counts["cases"] for name, counts in CASE_COUNTS.items() if "OpenAPI" in name}
    if not ran:
        pytest.skip("the contract tests did not run in this session")
    assert all(n >= CASES for n in ran.values()), ran
