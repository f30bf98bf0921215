"""The OpenAPI document as a client developer meets it, linted by our own rules.

openapi-spec-validator checks the document is valid 3.1; the rules here check what a
generated client and a reader need: every route names a stable operationId and a tag
beside its decorator (so a new route cannot ship without them), every operation says who
may call it (``security``), which statuses it answers with which problem ``code``s, the
reusable tenant and If-Match parameters, the response headers, and examples that are
valid for the models they illustrate.
"""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from chalicelib.local.collection import collection
from chalicelib.meta.examples import EXAMPLES
from chalicelib.meta.openapi import PROBLEM, TAGS, build_openapi
from tests.conftest import body_of

OPERATION_ID = re.compile(r"^[a-z][a-zA-Z0-9]+$")
METHODS = ("get", "put", "post", "patch", "delete")


def _routes() -> list[tuple[str, str, Any]]:
    from app import app

    return sorted((method, path, entry.view_function.route_spec)
                  for path, methods in app.routes.items() for method, entry in methods.items())


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    from app import app

    built = build_openapi(app, "tenant-platform API", [{"url": "http://127.0.0.1:8000"}])
    validate(built)
    return built


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_every_route_declares_a_unique_operation_id_and_a_known_tag_beside_its_decorator():
    seen: dict[str, tuple[str, str]] = {}
    for method, path, spec in _routes():
        assert spec.operation_id and OPERATION_ID.fullmatch(spec.operation_id), (
            f"{method} {path}: give its route decorator operation_id='lowerCamelCase'")
        assert spec.tag in TAGS, f"{method} {path}: tag={spec.tag!r} is not one of {sorted(TAGS)}"
        assert spec.operation_id not in seen, f"{spec.operation_id} names both {seen[spec.operation_id]} and {path}"
        seen[spec.operation_id] = (method, path)


def test_each_operation_has_its_id_one_declared_tag_a_summary_and_a_description(document):
    declared = {tag["name"] for tag in document["tags"]}
    for method, path, op in _operations(document):
        assert OPERATION_ID.fullmatch(op["operationId"]), (method, path)
        assert len(op["tags"]) == 1 and op["tags"][0] in declared, (method, path)
        assert op["summary"] and op["description"], (method, path)
    ids = [op["operationId"] for _, _, op in _operations(document)]
    assert len(ids) == len(set(ids))


def test_security_is_spelled_out_per_operation_and_public_routes_need_none(document):
    for method, path, op in _operations(document):
        if op["x-access"] in ("public", "public_tenant"):
            assert op["security"] == [], (method, path)
            assert "401" not in op["responses"], (method, path)
        else:
            assert op["security"] == [{"bearer": []}], (method, path)
            assert {"401", "403"} <= set(op["responses"]), (method, path)


def test_parameters_are_described_and_every_path_variable_is_declared(document):
    for method, path, op in _operations(document):
        params = [_resolve(document, p) for p in op.get("parameters", [])]
        assert all(p.get("description") for p in params), (method, path)
        in_path = {p["name"] for p in params if p["in"] == "path"}
        assert in_path == set(re.findall(r"{([^}]+)}", path)), (method, path)
        headers = {p["name"] for p in params if p["in"] == "header"}
        assert ("X-Tenant-ID" in headers) == (op["x-access"] in ("tenant", "public_tenant")), (method, path)


def test_error_responses_are_problem_documents_whose_examples_carry_their_status_and_code(document):
    for method, path, op in _operations(document):
        for status, response in op["responses"].items():
            if status.startswith(("2", "3")):
                continue
            # Each status is listed with its codes: no 4XX/default catch-all (the fuzzing suite,
            # tests/security/test_fuzz_openapi.py, fails any status an operation does not list).
            assert status.isdigit(), (method, path, status)
            media = response["content"]["application/problem+json"]
            assert media["schema"] == {"$ref": f"#/components/schemas/{PROBLEM}"}, (method, path, status)
            assert media["examples"], (method, path, status)
            for code, example in media["examples"].items():
                assert example["value"]["status"] == int(status) and example["value"]["code"] == code
                assert f"`{code}`" in response["description"], (method, path, status)


def test_limits_and_retries_are_documented_with_their_headers(document):
    for method, path, op in _operations(document):
        responses = op["responses"]
        if op["x-access"] in ("tenant", "public_tenant"):
            assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
                responses["429"]["headers"]), (method, path)
            success = next(r for s, r in responses.items() if s.startswith(("2", "3")))
            assert "RateLimit-Remaining" in success["headers"], (method, path)
        if "503" in responses:
            assert "Retry-After" in responses["503"]["headers"], (method, path)
        if any(s in responses for s in ("202", "302")):
            assert "Location" in next(r for s, r in responses.items() if s in ("202", "302"))["headers"]
    for name in ("ETag", "Location", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        assert name in document["components"]["headers"]


def test_if_match_routes_name_the_reusable_parameter_and_document_412_and_428(document):
    for method, path, spec in _routes():
        op = document["paths"][path][method.lower()]
        refs = {p.get("$ref", "").rsplit("/", 1)[-1] for p in op.get("parameters", [])}
        if spec.if_match is None:
            assert not refs & {"IfMatch", "IfMatchOptional"}, (method, path)
            continue
        assert refs & {"IfMatch", "IfMatchOptional"}, (method, path)
        assert "412" in op["responses"], (method, path)
        if spec.if_match == "required":
            assert "428" in op["responses"], (method, path)
    patch = document["paths"]["/api/professionals/{id}"]["patch"]
    assert "precondition_required" in patch["responses"]["428"]["content"]["application/problem+json"]["examples"]


def test_declared_errors_appear_with_their_codes(document):
    rotate = document["paths"]["/api/admin/tenants/{id}/keys/rotate"]["post"]["responses"]
    assert {"rotation_in_progress", "tenant_not_active"} <= set(rotate["409"]["content"]["application/problem+json"]["examples"])
    export = document["paths"]["/api/tenant/exports"]["post"]["responses"]
    assert "export_daily_limit" in export["429"]["content"]["application/problem+json"]["examples"]
    assert "export_concurrency_limit" in export["409"]["content"]["application/problem+json"]["examples"]


def test_examples_are_valid_for_the_models_they_illustrate():
    specs = {spec.operation_id: spec for _, _, spec in _routes()}
    assert set(EXAMPLES) <= set(specs), "an example names no operation"
    for operation_id, example in EXAMPLES.items():
        spec = specs[operation_id]
        if "request" in example:
            spec.body.model_validate(example["request"])
        if "response" in example:
            spec.response.model_validate(example["response"])
    assert {"createTenant", "createProfessional", "createCustomer", "createReferral", "requestExport"} <= set(EXAMPLES)


def test_the_served_document_names_the_stage_servers(client):
    document = body_of(client.get("/api/openapi.json", role=None))
    validate(document)
    assert document["servers"] == [{"url": "http://127.0.0.1:8000", "description": "make run (PORT changes the port)"}]
    assert document["paths"]["/api/professionals"]["get"]["operationId"] == "listProfessionals"


def test_the_http_collection_has_every_operation_once_with_the_right_token(document):
    files = collection(document, "http://127.0.0.1:8000", {"platform_admin": "ADMIN", "tenant_admin": "DEMO"})
    requests: dict[str, str] = {}
    for name, text in files.items():
        assert "@adminToken = ADMIN" in text and "@demoToken = DEMO" in text, name
        for block in text.split("###")[1:]:
            operation_id = re.search(r"# @name (\w+)", block).group(1)
            assert operation_id not in requests
            requests[operation_id] = block
    for method, path, op in _operations(document):
        block = requests[op["operationId"]]
        request_line = next(line for line in block.splitlines() if line.startswith(method.upper() + " "))
        assert request_line.startswith(f"{method.upper()} {{{{baseUrl}}}}{path.split('{')[0]}")
        token = {"platform": "{{adminToken}}", "tenant": "{{demoToken}}"}.get(op["x-access"])
        assert (f"Authorization: Bearer {token}" in block) if token else ("Authorization" not in block)
        if "requestBody" in op:
            json.loads(block.split("Content-Type: application/json", 1)[1])
