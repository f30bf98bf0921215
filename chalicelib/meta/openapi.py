"""The OpenAPI 3.1 document, generated from the route table and the routes' pydantic models."""
from __future__ import annotations

import re
from typing import Any

from chalice import Chalice
from pydantic import BaseModel

from chalicelib.errors import PROBLEM_CONTENT_TYPE

_PARAM = re.compile(r"{([^}]+)}")

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


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _operation(spec: Any, path: str, components: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": spec.summary, "x-access": spec.access}
    if spec.permission is not None:
        op["x-permission"] = spec.permission.value
    params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in _PARAM.findall(path)]
    if spec.query is not None:
        for name, field in spec.query.model_fields.items():
            params.append({"name": name, "in": "query", "required": field.is_required(), "schema": {"type": "string"}})
    if params:
        op["parameters"] = params
    if spec.access in ("tenant", "platform"):
        op["security"] = [{"bearer": []}]
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(spec.body, components)}},
        }
    ok: dict[str, Any] = {"description": "Success"}
    if spec.response is not None:
        ok["content"] = {"application/json": {"schema": _schema_ref(spec.response, components)}}
    responses: dict[str, Any] = {str(spec.status): ok}
    if spec.access in ("tenant", "platform"):
        responses["401"] = _problem("Missing or invalid token")
        responses["403"] = _problem("Forbidden, tenant mismatch or suspended")
    if spec.access in ("tenant", "public_tenant"):
        responses["404"] = _problem("Tenant not found")
    if spec.body is not None or spec.query is not None:
        responses["422"] = _problem("Validation failed")
    responses["500"] = _problem("Internal error")
    op["responses"] = responses
    return op


def build_openapi(app: Chalice, title: str) -> dict[str, Any]:
    components: dict[str, Any] = {"Problem": _PROBLEM_SCHEMA}
    paths: dict[str, Any] = {}
    for path in sorted(app.routes):
        for method, entry in sorted(app.routes[path].items()):
            spec = getattr(entry.view_function, "route_spec", None)
            if spec is None:
                continue
            paths.setdefault(path, {})[method.lower()] = _operation(spec, path, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
