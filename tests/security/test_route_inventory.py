"""The route inventory: every route is behind one of the decorators, names a permission
(or is on the short public list), and the set of routes equals the documented API.

The source of truth for "documented" is the README's route tables (the first cell of
every table row that starts with a backticked route): what a user reads is what the app
serves, no more and no less. The OpenAPI document is checked against the route table in
tests/api/test_openapi.py, so the three agree.

Everything here is driven by ``app.routes``: a route added by a later feature is
inventoried, refused anonymously and refused to the wrong roles without editing this file,
or the test names it until it is documented.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.auth.permissions import DEFAULT_ROLES, Permission, Role
from chalicelib.entry.routes import RouteSpec
from tests.conftest import ROOT, TenantClient, body_of, module_world

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Routes any caller may reach without a token, each with its reason.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/api/health"): "liveness probe; answers only the stage",
    ("GET", "/api/openapi.json"): "the API description; no tenant data",
    ("GET", "/api/tenant/branding"): "a tenant's login page needs its logo and colours before sign-in",
    ("GET", "/api/tenant/branding/assets/{name}"): "the uploaded logo and favicon that public branding names",
}
_ROUTE_CELL = re.compile(r"((?:GET|POST|PUT|PATCH|DELETE)(?:, (?:GET|POST|PUT|PATCH|DELETE))*) (/api/[^\s?`]+)")


def routes() -> list[tuple[str, str, Any]]:
    from app import app

    return sorted((method, path, entry.view_function)
                  for path, methods in app.routes.items() for method, entry in methods.items())


def specs() -> list[tuple[str, str, RouteSpec]]:
    return [(m, p, view.route_spec) for m, p, view in routes()]


def documented_routes() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    in_routes = False  # rows of the README's route tables, headed `| route | who | what |`
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("| route |"):
            in_routes = True
        elif not line.startswith("|"):
            in_routes = False
        if not in_routes or not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        for segment in re.findall(r"`([^`]+)`", cell):
            match = _ROUTE_CELL.fullmatch(segment.strip())
            assert match, f"README route cell not understood: {segment!r}"
            found |= {(method, match.group(2)) for method in match.group(1).split(", ")}
    return found


def test_every_route_goes_through_a_decorator_with_a_spec():
    undecorated = [(m, p) for m, p, view in routes() if not isinstance(getattr(view, "route_spec", None), RouteSpec)]
    assert undecorated == [], "routes without tenant_route/platform_route/public_*_route"


def test_every_non_public_route_names_a_permission_and_public_ones_are_listed():
    for method, path, spec in specs():
        if (method, path) in PUBLIC:
            assert spec.access in ("public", "public_tenant") and spec.permission is None, (method, path)
            continue
        assert spec.access in ("tenant", "platform"), f"{method} {path} is public but not in PUBLIC"
        assert isinstance(spec.permission, Permission), (method, path)
        if spec.access == "platform":
            assert spec.permission is Permission.PLATFORM_ADMIN, (method, path)
        else:
            assert spec.permission is not Permission.PLATFORM_ADMIN, (method, path)
    assert set(PUBLIC) <= {(m, p) for m, p, _ in specs()}, "a PUBLIC entry names no route"


def test_admin_routes_are_platform_routes_and_tenant_routes_are_not_under_admin():
    for method, path, spec in specs():
        assert (spec.access == "platform") == path.startswith("/api/admin/"), (method, path, spec.access)


def test_the_routes_equal_the_documented_api():
    served = {(m, p) for m, p, _ in routes()}
    documented = documented_routes()
    assert sorted(served - documented) == [], "served but not in the README's route tables"
    assert sorted(documented - served) == [], "in the README's route tables but not served"


# ---- the decorators enforce what the inventory says (one request per route) --------------


@pytest.fixture(scope="module")
def world(signing_keys, tmp_path_factory) -> Iterator[dict[str, Any]]:
    with module_world(signing_keys, tmp_path_factory.mktemp("chalice")) as built:
        yield built


@pytest.fixture
def client(world) -> TenantClient:
    from chalicelib.tenancy import context
    from chalicelib.tenancy.resolution import clear_cache

    clear_cache()
    context.clear()
    return world["client"]


def concrete(path: str) -> str:
    return re.sub(r"{[^}]+}", str(uuid.uuid4()), path)


PROTECTED = [(m, p) for m, p, s in specs() if (m, p) not in PUBLIC]
PLATFORM = [(m, p) for m, p, s in specs() if s.access == "platform"]
TENANT = [(m, p, s.permission) for m, p, s in specs() if s.access == "tenant"]


@pytest.mark.parametrize("method,path", PROTECTED)
def test_every_protected_route_refuses_an_anonymous_caller(client, world, method, path):
    # An anonymous caller who names the tenant every way it can
    response = client.request(method, concrete(path), role=None, body={},
                              headers={"X-Tenant-ID": str(world["acme"].id)})
    assert response.status_code == 401, (method, path, response.body)
    assert body_of(response)["code"] == "unauthorized"


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.PLATFORM_ADMIN])
@pytest.mark.parametrize("method,path", PLATFORM)
def test_every_admin_route_refuses_every_tenant_role(client, world, method, path, role):
    response = client.request(method, concrete(path), tenant=world["acme"], role=role.value, body={})
    assert response.status_code == 403, (method, path, role, response.body)
    assert body_of(response)["code"] == "forbidden"


def _lacking(permission: Permission) -> list[Role]:
    return [r for r in Role if r is not Role.PLATFORM_ADMIN and permission not in DEFAULT_ROLES[r]]


TENANT_DENIALS = [(m, p, role) for m, p, perm in TENANT for role in _lacking(perm)]


@pytest.mark.parametrize("method,path,role", TENANT_DENIALS)
def test_every_tenant_route_refuses_roles_without_its_permission(client, world, method, path, role):
    response = client.request(method, concrete(path), tenant=world["acme"], role=role.value, body={})
    assert response.status_code == 403, (method, path, role, response.body)
    assert body_of(response)["code"] == "forbidden"


def test_a_platform_admin_without_naming_a_tenant_is_not_served_tenant_routes(client):
    for method, path, _ in TENANT:
        response = client.request(method, concrete(path), role="platform_admin", body={})
        assert response.status_code in (403, 404), (method, path, response.status_code)
        assert body_of(response)["code"] in ("tenant_required", "tenant_not_found", "forbidden"), (method, path)


SWAPS = sorted({(m, p) for _, p, _ in specs() for m in METHODS}
               - {(m, p) for m, p, _ in specs()})


@pytest.mark.parametrize("method,path", SWAPS)
def test_a_method_the_route_does_not_declare_is_refused(client, world, method, path):
    # A tenant admin swaps GET for DELETE, POST for PUT...: the router refuses before any view
    response = client.request(method, concrete(path), tenant=world["acme"], body={})
    assert response.status_code == 405, (method, path, response.status_code)
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert method not in allowed and allowed <= set(METHODS)
