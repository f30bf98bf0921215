"""The OpenAPI 3.1 document, generated from the route table and the routes' pydantic models."""
from __future__ import annotations

import re
from typing import Any

from chalice import Chalice
from pydantic import BaseModel

from chalicelib.errors import PROBLEM_CONTENT_TYPE

_PARAM = re.compile(r"{([^}]+)}")
# Not "Problem": the audit verification report has a model of that name.
PROBLEM = "ProblemDetails"

_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "code", "detail", "request_id"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
    },
}


def _add_component(components: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    # Two models of one name (or a model named like a fixed component) would silently
    # replace each other's schema, and clients would validate against the wrong one.
    if components.setdefault(name, schema) != schema:
        raise ValueError(f"two different schemas are both named {name!r} in the OpenAPI document")


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        _add_component(components, name, definition)
    _add_component(components, model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"#/components/schemas/{PROBLEM}"}}},
    }


def _operation(spec: Any, method: str, path: str, components: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": spec.summary, "x-access": spec.access}
    if spec.permission is not None:
        op["x-permission"] = spec.permission.value
    params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in _PARAM.findall(path)]
    if spec.query is not None:
        properties = spec.query.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in properties.pop("$defs", {}).items():
            _add_component(components, name, definition)
        for field_name, field in spec.query.model_fields.items():
            name = field.alias or field_name  # what the client sends (``from``, not ``from_``)
            schema = {k: v for k, v in properties["properties"][name].items() if k not in ("title", "default")}
            params.append({"name": name, "in": "query", "required": field.is_required(), "schema": schema})
    if params:
        op["parameters"] = params
    if spec.access in ("tenant", "platform"):
        op["security"] = [{"bearer": []}]
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(spec.body, components)}},
        }
    ok: dict[str, Any] = {"description": "Success" if spec.status != 204 else "Done, no content"}
    if spec.response is not None:
        ok["content"] = {"application/json": {"schema": _schema_ref(spec.response, components)}}
    responses: dict[str, Any] = {str(spec.status): ok}
    if method == "put" and spec.response is not None:
        responses.setdefault("201", ok)  # a PUT that creates (a role) answers 201 with the same body
    if spec.access in ("tenant", "platform"):
        responses["401"] = _problem("Missing or invalid token")
        responses["403"] = _problem("Forbidden, tenant mismatch or suspended")
    if spec.access in ("tenant", "public_tenant"):
        responses["404"] = _problem("Tenant not found")
    if spec.body is not None or spec.query is not None:
        responses["422"] = _problem("Validation failed")
    # Every other client error (400 bad JSON, 404 unknown id, 409, 412, 413, 428...) is a
    # problem document too, and 503 (KMS or the identity provider unavailable) may answer any
    # authenticated or tenant route: declared so that clients and the fuzzing suite can check them.
    responses["4XX"] = _problem("Client error")
    responses["500"] = _problem("Internal error")
    if spec.access != "public":
        responses["503"] = _problem("A dependency is unavailable; retry after Retry-After")
    op["responses"] = responses
    return op


def build_openapi(app: Chalice, title: str) -> dict[str, Any]:
    components: dict[str, Any] = {PROBLEM: _PROBLEM_SCHEMA}
    paths: dict[str, Any] = {}
    for path in sorted(app.routes):
        for method, entry in sorted(app.routes[path].items()):
            spec = getattr(entry.view_function, "route_spec", None)
            if spec is None:
                continue
            paths.setdefault(path, {})[method.lower()] = _operation(spec, method.lower(), path, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
