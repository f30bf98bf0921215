"""OWASP API Security Top 10 (2023), the parts that apply here, driven by the route table.

- API1 object level: tests/security/test_isolation_matrix.py (every route with an id).
- API5 function level: tests/security/test_route_inventory.py (every route, every role,
  method swaps).
- API3 property level (this module): mass assignment refused on every body model, and
  responses never expose storage internals (keys, index values, ciphertext, blind indexes).
- API4 resource consumption (this module): page-size caps on every listing, body-size cap
  on every body route, deep nesting, oversized cursors. Rate limits and quotas: issue 8.
- API7 SSRF (this module): every URL field of every body model refuses non-public targets;
  nothing the API accepts is ever fetched.
- API8 misconfiguration (this module): debug off, no traceback or internals in a 500, no
  CORS grant to any origin, validation errors that do not echo values.
"""
from __future__ import annotations

import json
import re
import socket
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from chalicelib.http import MAX_BODY_BYTES
from tests.conftest import ROOT, TenantClient, body_of, module_world
from tests.security.encryption_support import table_items
from tests.security.test_isolation_matrix import TARGETS, populate


def route_specs() -> list[tuple[str, str, Any]]:
    from app import app

    return sorted((m, p, e.view_function.route_spec) for p, ms in app.routes.items() for m, e in ms.items())


BODY_ROUTES = [(m, p, s.body) for m, p, s in route_specs() if s.body is not None]
LIST_ROUTES = [(m, p, s.query) for m, p, s in route_specs() if s.query is not None and "limit" in s.query.model_fields]
# Server-owned: never taken from a body (``version`` is the client's precondition on edits only).
SERVER_OWNED = ("id", "tenant_id", "created_at", "updated_at", "created_by", "pk", "sk", "version")


def nested_models(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()

    def visit(annotation: Any) -> Iterator[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in seen:
                seen.add(annotation)
                yield annotation
                for field in annotation.model_fields.values():
                    yield from visit(field.annotation)
        for arg in typing.get_args(annotation):
            yield from visit(arg)

    yield from visit(model)


def url_fields() -> list[tuple[type[BaseModel], str]]:
    found = {(m, name) for _, _, body in BODY_ROUTES for m in nested_models(body)
             for name in m.model_fields if name.endswith("_url")}
    return sorted(found, key=lambda f: (f[0].__name__, f[1]))


# ---- world --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(signing_keys, tmp_path_factory) -> Iterator[dict[str, Any]]:
    with module_world(signing_keys, tmp_path_factory.mktemp("chalice")) as built:
        built["ids"] = populate(built["client"], built["acme"], "owasp")
        yield built


@pytest.fixture
def client(world) -> TenantClient:
    from chalicelib.tenancy import context
    from chalicelib.tenancy.resolution import clear_cache

    clear_cache()
    context.clear()
    return world["client"]


def listed(client: TenantClient, tenant: Any, path: str) -> list[Any]:
    response = client.get(f"{path}?limit=100", tenant=tenant)
    assert response.status_code == 200, response.body
    return body_of(response)["items"]


# ---- API3: property level -----------------------------------------------------------------


@pytest.mark.parametrize("method,path,body", BODY_ROUTES, ids=lambda v: getattr(v, "__name__", v))
def test_every_body_model_refuses_unknown_fields_at_every_depth(method, path, body):
    lax = [m.__name__ for m in nested_models(body) if m.model_config.get("extra") != "forbid"]
    assert lax == [], f"{method} {path}: models that would accept (or silently drop) unknown fields"


@pytest.mark.parametrize("method,path,body", BODY_ROUTES, ids=lambda v: getattr(v, "__name__", v))
def test_no_body_model_takes_a_server_owned_field(method, path, body):
    owned = {name for name in SERVER_OWNED if name in body.model_fields}
    if method in ("PATCH", "PUT"):
        owned.discard("version")  # the precondition, checked against the stored version
    assert owned == set(), f"{method} {path} accepts {owned} from the client"


CREATES = {
    "/api/service-categories": {"slug": "mass-assign", "name": "Mass"},
    "/api/professionals": {"business_name": "Mass Garage", "contact_name": "M", "email": "mass@garage.example"},
    "/api/customers": {"name": "Mass Customer", "email": "mass@customer.example"},
    "/api/tenant/members": {"email": "mass@member.example", "role": "manager"},
}


@pytest.mark.parametrize("field,value", [
    ("id", "00000000-0000-4000-8000-000000000001"), ("tenant_id", None), ("created_at", "2000-01-01T00:00:00Z"),
    ("updated_at", "2000-01-01T00:00:00Z"), ("version", 99), ("pk", "T#x#PRO"), ("sk", "x"), ("refs", 0),
])
@pytest.mark.parametrize("path", list(CREATES))
def test_a_create_with_a_server_owned_field_is_refused_and_stores_nothing(client, world, path, field, value):
    acme, globex = world["acme"], world["globex"]
    before = listed(client, acme, path)
    # Given a valid body plus one field the server owns (tenant_id naming another tenant)
    body = {**CREATES[path], field: str(globex.id) if field == "tenant_id" else value}
    response = client.request("POST", path, tenant=acme, body=body)
    # Then it is a 422 naming that field, and nothing was created in either tenant
    assert response.status_code == 422, response.body
    assert ["body", field] in [e["loc"] for e in body_of(response)["errors"]]
    assert listed(client, acme, path) == before
    assert not [i for i in listed(client, globex, path) if "mass" in json.dumps(i).lower()]


@pytest.mark.parametrize("field", ["id", "tenant_id", "created_at", "pk", "status_history"])
def test_an_edit_with_a_server_owned_field_is_refused_and_changes_nothing(client, world, field):
    url = f"/api/professionals/{world['ids']['professional']}"
    before = body_of(client.get(url, tenant=world["acme"]))
    response = client.request("PATCH", url, tenant=world["acme"], headers={"If-Match": f'"{before["version"]}"'},
                              body={"business_name": "Renamed", field: str(world["globex"].id)})
    assert response.status_code == 422, response.body
    assert body_of(client.get(url, tenant=world["acme"])) == before


INTERNAL_KEYS = {"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "pii", "refs",
                 "entity_id", "kind_sk", "email_hash", "blind_index", "secret"}
# The TTL attribute's name is also an export's public expiry (an ISO time); the stored TTL
# is an epoch number, and that must never reach a client.
TTL_ATTRIBUTE = "expires_at"


def _ttl_leaks(node: Any) -> list[Any]:
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k == TTL_ATTRIBUTE and isinstance(v, (int, float))]
        return found + [leak for value in node.values() for leak in _ttl_leaks(value)]
    if isinstance(node, list):
        return [leak for value in node for leak in _ttl_leaks(value)]
    return []


def _keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from _keys(value)


def _stored_secrets(tenant: Any) -> set[str]:
    """Every key, index value and ciphertext stored for ``tenant``: none may reach a client."""
    values: set[str] = set()
    for item in table_items():
        if item.get("tenant_id", {}).get("S") != str(tenant.id):
            continue
        for name in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "pii"):
            value = item.get(name, {}).get("S", "")
            # Sort keys that are plain ids or slugs are public; keyed and encrypted values are not
            if "#" in value or len(value) >= 64:
                values.add(value)
    return values


# GET routes that answer without a JSON body, each with where it is tested.
NO_BODY = {"/api/tenant/branding/assets/{name}": "a 302 to a presigned URL: tests/api/test_branding.py",
           "/api/tenant/exports/{id}/download": "a 302 to a presigned URL: tests/api/test_exports.py"}


def readable_urls(world: dict[str, Any]) -> list[tuple[str, str]]:
    """Every GET route, as the role that may read it, with real ids of the tenant's records."""
    ids, acme = world["ids"], world["acme"]
    found = []
    for method, path, spec in route_specs():
        if method != "GET" or path in NO_BODY:
            continue
        url = path
        if path in TARGETS:
            url = re.sub(r"{[^}]+}", ids[TARGETS[path][0]], path)
        url = url.replace("{n}", "1").replace("{id}", str(acme.id)).replace("{kind}", "email")
        found.append((url, "platform_admin" if spec.access == "platform" else "tenant_admin"))
    return found


def test_no_response_exposes_storage_internals(client, world):
    acme = world["acme"]
    secrets = _stored_secrets(acme)
    assert len(secrets) > 10  # the world has keys, index values and ciphertext to leak
    checked = 0
    for url, role in readable_urls(world):
        headers = {"X-Tenant-ID": str(acme.id)} if role == "tenant_admin" else {}
        response = client.request("GET", url, tenant=acme, role=role, headers=headers)
        assert response.status_code in (200, 304), (url, response.body)
        text = response.body.decode()
        assert not INTERNAL_KEYS & set(_keys(json.loads(text))), (url, INTERNAL_KEYS & set(_keys(json.loads(text))))
        assert not _ttl_leaks(json.loads(text)), url
        assert not [s for s in secrets if s in text], url
        assert '"T#' not in text, url
        checked += 1
    assert checked >= 25


# ---- API4: resource consumption -----------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "-1", "101", "1000000", str(10**30), "1e3", "ten", ""])
@pytest.mark.parametrize("method,path,query", LIST_ROUTES, ids=lambda v: getattr(v, "__name__", v))
def test_every_listing_caps_its_page_size(client, world, method, path, query, limit):
    role = "platform_admin" if path.startswith("/api/admin/") else "tenant_admin"
    response = client.request(method, f"{path}?limit={limit}", tenant=world["acme"], role=role)
    assert response.status_code == 422, (path, limit, response.status_code)
    assert body_of(response)["errors"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize("method,path,query", LIST_ROUTES, ids=lambda v: getattr(v, "__name__", v))
def test_every_listing_refuses_an_oversized_or_forged_cursor(client, world, method, path, query):
    role = "platform_admin" if path.startswith("/api/admin/") else "tenant_admin"
    for cursor in ("A" * 5000, "eyJwayI6ICJUI3gifQ", "%00", "../../"):
        response = client.request(method, f"{path}?cursor={cursor}", tenant=world["acme"], role=role)
        assert 400 <= response.status_code < 500, (path, cursor[:20], response.status_code)


def concrete(path: str, world: dict[str, Any]) -> str:
    return re.sub(r"{[^}]+}", world["ids"]["professional"], path)


@pytest.mark.parametrize("method,path,body", BODY_ROUTES, ids=lambda v: getattr(v, "__name__", v))
def test_every_body_route_refuses_a_body_over_the_cap(client, world, method, path, body):
    role = "platform_admin" if path.startswith("/api/admin/") else "tenant_admin"
    oversized = json.dumps({"name": "x" * (MAX_BODY_BYTES + 1)})
    response = client.request(method, concrete(path, world), tenant=world["acme"], role=role, body=oversized,
                              headers={"If-Match": '"1"'})
    assert response.status_code == 413, (method, path, response.status_code)
    assert body_of(response)["code"] == "payload_too_large"


@pytest.mark.parametrize("depth", [64, 100_000])
@pytest.mark.parametrize("method,path,body", BODY_ROUTES, ids=lambda v: getattr(v, "__name__", v))
def test_deeply_nested_json_is_a_client_error(client, world, method, path, body, depth):
    role = "platform_admin" if path.startswith("/api/admin/") else "tenant_admin"
    nested = '{"a":' * depth + "1" + "}" * depth
    payload = nested if len(nested) <= MAX_BODY_BYTES else "[" * depth + "]" * depth
    response = client.request(method, concrete(path, world), tenant=world["acme"], role=role, body=payload,
                              headers={"If-Match": '"1"'})
    assert response.status_code in (400, 404, 413, 422), (method, path, depth, response.status_code)


def test_deep_nesting_inside_a_free_form_field_is_refused(client, world):
    # The configuration is the one body with open-ended structure; its schema bounds it
    deep: dict[str, Any] = {"x": 1}
    for _ in range(200):
        deep = {"x": deep}
    response = client.request("PUT", "/api/tenant/config", tenant=world["acme"],
                              body={"overrides": {"features": deep}}, headers={"If-Match": '"1"'})
    assert response.status_code == 422, response.body


# ---- API7: SSRF ---------------------------------------------------------------------------

HOSTILE_URLS = [
    "http://cdn.example.com/logo.png", "file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO",
    "https://127.0.0.1/", "https://localhost/", "https://[::1]/", "https://10.0.0.1/", "https://192.168.0.1/",
    "https://172.16.0.1/", "https://169.254.169.254/latest/meta-data/iam/", "https://[fe80::1]/",
    "https://[::ffff:127.0.0.1]/", "https://[64:ff9b::a9fe:a9fe]/", "https://[2002:7f00:1::]/",
    "https://2130706433/", "https://0x7f000001/", "https://0177.0.0.1/", "https://127.1/",
    "https://cdn.example.com@127.0.0.1/", "https://user:pw@cdn.example.com/", "https://metadata.google.internal/",
    "https://printer.local/", "https://127.0.0.1.", "https://[::]/", "https://0.0.0.0/",
]


def test_the_url_fields_are_found():
    # logo_url (tenant creation, branding) and favicon_url (branding) at least; later features'
    # URL fields (integration endpoints...) join this list by their name.
    names = {name for _, name in url_fields()}
    assert {"logo_url", "favicon_url"} <= names


@pytest.mark.parametrize("model,field", url_fields(), ids=lambda v: getattr(v, "__name__", v))
def test_every_url_field_refuses_every_non_public_target(model, field):
    for url in HOSTILE_URLS:
        try:
            model.model_validate({field: url})
        except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError, inspected below
            errors = [e for e in exc.errors() if e["loc"][:1] == (field,)]  # type: ignore[attr-defined]
            assert errors and errors[0]["type"] != "missing", (model.__name__, field, url)
        else:
            pytest.fail(f"{model.__name__}.{field} accepted {url}")


@pytest.fixture
def no_network(monkeypatch) -> list[Any]:
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_hostile_urls_through_the_api_store_nothing_and_nothing_is_ever_fetched(client, world, no_network):
    acme = world["acme"]
    before = body_of(client.request("GET", "/api/tenant/branding", role=None, headers={"X-Tenant-ID": str(acme.id)}))
    for url in HOSTILE_URLS:
        for path, role in (("/api/tenant/branding", "tenant_admin"), (f"/api/admin/tenants/{acme.id}/branding",
                                                                       "platform_admin")):
            response = client.request("PUT", path, tenant=acme, role=role, headers={"If-Match": f'"{before["version"]}"'},
                                      body={"display_name": "SSRF", "logo_url": url, "favicon_url": url})
            assert response.status_code == 422, (path, url)
            assert url not in response.body.decode()  # refused without echoing the value
        created = client.request("POST", "/api/admin/tenants", role="platform_admin",
                                 body={"slug": "ssrf-probe", "name": "S", "display_name": "S", "logo_url": url})
        assert created.status_code == 422, url
    # A public URL is stored as given: never resolved, fetched or followed (redirects included)
    ok = client.request("PUT", "/api/tenant/branding", tenant=acme, headers={"If-Match": f'"{before["version"]}"'},
                        body={"display_name": "Public", "logo_url": "https://redirects.example/to/169.254.169.254"})
    assert ok.status_code == 200, ok.body
    assert no_network == []
    assert client.request("GET", "/api/admin/tenants/ssrf-probe", role="platform_admin").status_code == 404


# ---- API8: misconfiguration ---------------------------------------------------------------


def test_debug_is_off_and_no_stage_turns_it_on():
    from app import app

    assert app.debug is False
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    stages = [config, *config.get("stages", {}).values()]
    assert not [s for s in stages if s.get("debug") or s.get("environment_variables", {}).get("DEBUG")]


def test_an_unexpected_error_is_a_plain_500_without_internals(client, world, monkeypatch):
    from chalicelib.network.professionals import service as professionals

    def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom arn:aws:kms:us-east-1:123456789012:key/secret-id at /var/task/chalicelib")

    monkeypatch.setattr(professionals, "list_professionals", explode)
    response = client.get("/api/professionals", tenant=world["acme"])
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/problem+json"
    text = response.body.decode()
    assert body_of(response)["code"] == "internal_error"
    for leak in ("Traceback", "arn:aws", "RuntimeError", "boom", "/var/task", "chalicelib"):
        assert leak not in text


def test_validation_errors_name_fields_but_never_echo_values(client, world):
    marker = "<script>alert('x')</script>@evil.example"
    response = client.request("POST", "/api/professionals", tenant=world["acme"],
                              body={"business_name": 5, "contact_name": [marker], "email": marker})
    assert response.status_code == 422
    assert marker not in response.body.decode() and "alert" not in response.body.decode()


def test_no_route_grants_cors_to_any_origin(client, world):
    # As designed: browsers call the API from the tenant's own origin (or through a proxy),
    # so no route sends Access-Control-Allow-Origin, and a hostile page's reads stay opaque.
    from app import app

    assert [p for p, ms in app.routes.items() for e in ms.values() if e.cors] == []
    response = client.get("/api/tenant", tenant=world["acme"], headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert not {h.lower() for h in response.headers} & {"access-control-allow-origin",
                                                         "access-control-allow-credentials"}


def test_every_response_carries_a_request_id_and_no_server_banner(client, world):
    for url, role in readable_urls(world)[:10]:
        response = client.request("GET", url, tenant=world["acme"], role=role,
                                  headers={"X-Tenant-ID": str(world["acme"].id)} if role == "tenant_admin" else {})
        assert response.headers.get("X-Request-ID")
        assert "Server" not in response.headers and "X-Powered-By" not in response.headers

