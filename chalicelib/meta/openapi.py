"""The OpenAPI 3.1 document, generated from the route table and the routes' pydantic models.

What each operation says comes from its decorator (entry/routes.py ``RouteSpec``):
the operationId and tag a client SDK names its functions and modules by, the access rule
(and so the ``security`` requirement: none on public routes), the If-Match rule, and the
errors it declares; the statuses every route of its kind may answer come from
``meta/problems.py``, the examples from ``meta/examples.py``.
"""
from __future__ import annotations

from typing import Any

from chalice import Chalice
from pydantic import BaseModel

from chalicelib.errors import PROBLEM_CONTENT_TYPE
from chalicelib.meta import problems
from chalicelib.meta.examples import EXAMPLES

# Not "Problem": the audit verification report has a model of that name.
PROBLEM = "ProblemDetails"
BEARER = "bearer"

TAGS: dict[str, str] = {
    "Tenants": "The resolved tenant's profile, and the tenants' lifecycle (super-admins).",
    "Network": "Service categories, professionals, customers and the referrals between them.",
    "Members": "Roles, members and their invitations.",
    "Configuration": "The tenant's configuration and its versions.",
    "Branding": "The tenant's public branding, its uploads and versions.",
    "Integrations": "The tenant's email, SMS, payment and analytics providers.",
    "Exports": "Asynchronous exports of the tenant's data.",
    "Limits": "Plans, per-tenant limit overrides and usage.",
    "Audit": "The tenant's and the platform's audit trails.",
    "Admin": "Platform operations: a tenant's encryption keys, the platform's metrics.",
    "Meta": "Liveness and this document.",
}

_PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details; `code` is stable and machine-readable, `detail` is for people.",
    "required": ["type", "title", "status", "code", "detail", "request_id"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the problem type (ends with `code`)."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "The problem's code, listed per response in its examples."},
        "detail": {"type": "string"},
        "request_id": {"type": "string", "description": "As the `X-Request-ID` response header."},
    },
}

_INTEGER_HEADER = {"schema": {"type": "integer", "minimum": 0}}
HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {"description": 'The resource\'s version, quoted (`"3"`): send it back as `If-Match`.',
             "schema": {"type": "string"}},
    "Location": {"description": "Where the created resource, or the asynchronous work's status, is read.",
                 "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before retrying.", **_INTEGER_HEADER},
    "RateLimit-Limit": {"description": "The request budget of the policy closest to running out.",
                        **_INTEGER_HEADER},
    "RateLimit-Remaining": {"description": "Requests left in that budget.", **_INTEGER_HEADER},
    "RateLimit-Reset": {"description": "Seconds until that budget is full again.", **_INTEGER_HEADER},
    "X-Request-ID": {"description": "The request's id (yours, if you sent a well-formed one).",
                     "schema": {"type": "string"}},
    "WWW-Authenticate": {"description": "The bearer challenge.", "schema": {"type": "string"}},
}
_RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")

PARAMETERS: dict[str, dict[str, Any]] = {
    "XTenantID": {
        "name": "X-Tenant-ID", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 63},
        "description": (
            "The tenant, by UUID or slug. Optional: the tenant may also be named by the host's subdomain "
            "under the platform domain (`demo.<domain>`), a custom domain mapped to it, or the token's "
            "`tenant_id` claim. Every source present must name the same tenant (else 403 `tenant_mismatch`). "
            "A super-admin acts inside a tenant only by naming it here or with the host."),
        "example": "demo",
    },
    "IfMatch": {
        "name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"},
        "description": 'The `ETag` last read (`"3"`); or send `version` in the body. Missing: 428; stale: 412.',
        "example": '"1"',
    },
    "IfNoneMatch": {
        "name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
        "description": "The `ETag` of the copy you hold: unchanged, the answer is 304 with no body.",
    },
    "IfMatchOptional": {
        "name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
        "description": ('The `ETag` last read (`"3"`); sent and stale: 412. Where the body has `version`, '
                        "one of the two is required (neither: 428); elsewhere, left out, the write replaces "
                        "(or creates) whatever is stored."),
        "example": '"1"',
    },
}

_PATH_PARAMETERS: dict[str, tuple[str, dict[str, Any]]] = {
    "id": ("The resource's id (a UUID).", {"type": "string"}),
    "slug": ("The service category's slug.", {"type": "string", "pattern": "^[a-z0-9-]+$"}),
    "n": ("A version number (1 is the first).", {"type": "integer", "minimum": 1}),
    "kind": ("The integration kind.", {"type": "string", "enum": ["email", "sms", "payment", "analytics"]}),
    "name": ("The name (of the plan, role or uploaded file).", {"type": "string"}),
}

# Query parameters whose model field carries no description of its own.
_QUERY_PARAMETERS = {
    "limit": "Items per page (at most 100).",
    "cursor": "The `next_cursor` of the previous page (valid in its tenant only).",
    "status": "Only items in this status.",
    "category": "Only professionals offering this service category (its slug).",
    "professional_id": "Only referrals this professional sent or received (see `direction`).",
    "direction": "With `professional_id`: only the referrals it `sent`, or those it `received`.",
    "plan": "Only tenants on this plan.",
    "q": "Only tenants whose slug or name contains this text.",
    "tenant": "Only the events of this tenant (its UUID).",
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


def _header_refs(names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _path_parameter(name: str, path: str) -> dict[str, Any]:
    description, schema = _PATH_PARAMETERS.get(name, ("", {"type": "string"}))
    if name == "id" and path.startswith("/api/admin/tenants/"):
        description = "The tenant's UUID or slug."
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def _parameters(spec: Any, path: str, components: dict[str, Any]) -> list[dict[str, Any]]:
    params = [_path_parameter(p, path) for p in problems.PATH_PARAMETER.findall(path)]
    if spec.query is not None:
        properties = spec.query.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in properties.pop("$defs", {}).items():
            _add_component(components, name, definition)
        for field_name, field in spec.query.model_fields.items():
            name = field.alias or field_name  # what the client sends (``from``, not ``from_``)
            schema = {k: v for k, v in properties["properties"][name].items() if k not in ("title", "default")}
            param = {"name": name, "in": "query", "required": field.is_required(), "schema": schema}
            description = field.description or _QUERY_PARAMETERS.get(name)
            if description:
                param["description"] = description
            params.append(param)
    if spec.access in ("tenant", "public_tenant"):
        params.append({"$ref": "#/components/parameters/XTenantID"})
    if spec.not_modified:
        params.append({"$ref": "#/components/parameters/IfNoneMatch"})
    # A body with ``version`` may carry the precondition instead of the header (PATCH).
    in_body = spec.body is not None and "version" in spec.body.model_fields
    if spec.if_match == "required" and not in_body:
        params.append({"$ref": "#/components/parameters/IfMatch"})
    elif spec.if_match == "optional" or in_body:
        params.append({"$ref": "#/components/parameters/IfMatchOptional"})
    return params


def _success(spec: Any, method: str, components: dict[str, Any]) -> dict[str, Any]:
    example = EXAMPLES.get(spec.operation_id or "", {})
    descriptions = {200: "Success", 201: "Created", 202: "Accepted: the work continues in the background",
                    204: "Done, no content", 302: "Found: follow `Location`"}
    ok: dict[str, Any] = {"description": descriptions.get(spec.status, "Success")}
    headers: list[str] = ["X-Request-ID"]
    if spec.response is not None:
        media: dict[str, Any] = {"schema": _schema_ref(spec.response, components)}
        if "response" in example:
            media["example"] = example["response"]
        ok["content"] = {"application/json": media}
        versioned = "version" in spec.response.model_fields and method != "delete" and spec.status != 202
        if versioned or spec.not_modified:
            headers.append("ETag")
    if spec.status in (202, 302) or "Location" in spec.headers:
        headers.append("Location")
    if spec.access in ("tenant", "public_tenant"):
        headers += _RATE_HEADERS
    headers += [h for h in spec.headers if h not in headers]
    ok["headers"] = _header_refs(headers)
    responses: dict[str, Any] = {str(spec.status): ok}
    # A tenant PUT whose If-Match is optional creates what is not there yet (a role, an
    # integration) and answers 201 with the same body.
    if method == "put" and spec.if_match == "optional" and spec.access == "tenant":
        responses["201"] = {**ok, "description": "Created"}
    if spec.not_modified:
        responses["304"] = {"description": "Not modified: the copy named by If-None-Match is current",
                            "headers": _header_refs(["X-Request-ID", "ETag", *_RATE_HEADERS])}
    return responses


def _problem_response(status: int, errors: list[Any]) -> dict[str, Any]:
    codes = ", ".join(f"`{e.code}`" for e in errors)
    response: dict[str, Any] = {
        "description": f"{errors[0].title if len(errors) == 1 else 'Refused'} (code: {codes})",
        "content": {PROBLEM_CONTENT_TYPE: {
            "schema": {"$ref": f"#/components/schemas/{PROBLEM}"},
            "examples": {e.code: problems.example(e) for e in errors},
        }},
    }
    headers = ["X-Request-ID"]
    if status == 401:
        headers.append("WWW-Authenticate")
    if status in (429, 503):
        headers.append("Retry-After")
    if status == 429:
        headers += _RATE_HEADERS
    response["headers"] = _header_refs(headers)
    return response


def _description(spec: Any) -> str:
    if spec.access == "public":
        return "No token."
    if spec.access == "public_tenant":
        return "No token; the tenant comes from the host or `X-Tenant-ID`."
    who = "Super-admins only" if spec.access == "platform" else f"Permission `{spec.permission.value}`"
    return f"{who}. Bearer JWT."


def _operation(spec: Any, method: str, path: str, components: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": spec.operation_id,
        "tags": [spec.tag] if spec.tag else [],
        "summary": spec.summary,
        "description": _description(spec),
        "x-access": spec.access,
    }
    if spec.permission is not None:
        op["x-permission"] = spec.permission.value
    params = _parameters(spec, path, components)
    if params:
        op["parameters"] = params
    op["security"] = [{BEARER: []}] if spec.access in ("tenant", "platform") else []
    if spec.body is not None:
        media: dict[str, Any] = {"schema": _schema_ref(spec.body, components)}
        example = EXAMPLES.get(spec.operation_id or "", {})
        if "request" in example:
            media["example"] = example["request"]
        op["requestBody"] = {"required": True, "content": {"application/json": media}}
    responses = _success(spec, method, components)
    for status, errors in problems.by_status(problems.errors_of(spec, method, path)).items():
        responses[str(status)] = _problem_response(status, errors)
    op["responses"] = responses
    return op


def build_openapi(app: Chalice, title: str, servers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    components: dict[str, Any] = {PROBLEM: _PROBLEM_SCHEMA}
    paths: dict[str, Any] = {}
    for path in sorted(app.routes):
        for method, entry in sorted(app.routes[path].items()):
            spec = getattr(entry.view_function, "route_spec", None)
            if spec is None:
                continue
            paths.setdefault(path, {})[method.lower()] = _operation(spec, method.lower(), path, components)
    used_tags = {op["tags"][0] for ops in paths.values() for op in ops.values() if op["tags"]}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "1.0.0",
            "contact": {"name": "Platform team", "url": "https://platform.example/support"},
            "summary": "A multi-tenant platform for automotive professional networks.",
            "description": ("Every request but the public ones carries `Authorization: Bearer <JWT>`. "
                            "Errors are `application/problem+json` with a stable `code`."),
        },
        "servers": servers or [],
        "security": [{BEARER: []}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items() if name in used_tags],
        "paths": paths,
        "components": {
            "schemas": components,
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "securitySchemes": {BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
    if not document["servers"]:
        del document["servers"]
    return document
