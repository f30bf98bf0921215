"""The route pipeline every HTTP entry point goes through (handlers: ``entry.handlers``).

``@tenant_route(permission=...)`` does, in this order, once per request: reset
per-request state; authenticate the JWT; resolve the tenant (and so check the token's
claim against the other sources, and the tenant's status: a super-admin's GET also
reaches a suspended or soft-deleted tenant, read-only and audited); look up the caller's
membership (members/authority.py: the member record is the authority, cached briefly;
platform admins come from the identity provider); check the permission;
apply the tenant's rate limit (chalicelib/ratelimit); bind the ``TenantContext``; call
the view; always unbind. ``@platform_route`` is the
same for super-admin routes (no tenant), ``@public_route`` for the few routes that need
neither, ``@public_tenant_route`` for tenant-resolved routes readable without a token.
Each wrapper carries a ``route_spec`` that the OpenAPI document and the route
inventory test read.
"""
# Over 300 lines: the four route wrappers share each step of one pipeline, which reads in
# order here (the handler pipeline is in entry/handlers.py).
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from chalice import Response
from pydantic import BaseModel, ValidationError

from chalicelib import http, lazy, tracing
from chalicelib.auth.permissions import Permission, permissions_for
from chalicelib.auth.principal import Principal
from chalicelib.auth.tokens import get_verifier
from chalicelib.entry import telemetry
from chalicelib.entry.process import reset_request_state
from chalicelib.errors import (
    AppError,
    ForbiddenError,
    InternalError,
    validation_error_from_pydantic,
)
from chalicelib.logs import bind_log_keys, configure_logging, security_event
from chalicelib.settings import get_settings
from chalicelib.tenancy import context as tenancy_context
from chalicelib.tenancy.context import RequestOrigin, TenantContext
from chalicelib.tenancy.tenant import Tenant

if TYPE_CHECKING:
    from chalicelib.audit import recording
    from chalicelib.members import authority
    from chalicelib.ratelimit import service as rate_limit
    from chalicelib.store import faults
    from chalicelib.tenancy import resolution
else:
    # Deferred to the first request (cold start, docs/cold-start.md): the authorizer and the
    # event handlers import the route table too, and these pull in the store and its tables.
    recording, authority = lazy.module("chalicelib.audit.recording"), lazy.module("chalicelib.members.authority")
    rate_limit, faults = lazy.module("chalicelib.ratelimit.service"), lazy.module("chalicelib.store.faults")
    resolution = lazy.module("chalicelib.tenancy.resolution")

log = logging.getLogger("request")
# Kept in audit events: an IPv6 address is at most 45 characters; user agents run long.
MAX_SOURCE_IP = 64
MAX_USER_AGENT = 256
Access = Literal["public", "public_tenant", "tenant", "platform"]
# A super-admin may read (never write) inside a suspended or soft-deleted tenant.
READ_METHODS = frozenset({"GET", "HEAD"})


IfMatch = Literal["required", "optional"]


@dataclass(frozen=True)
class RouteSpec:
    access: Access
    permission: Permission | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    summary: str
    # Tenant routes act for active members only (members/authority.py); False lets a
    # signed-in non-member in with INVITEE_PERMISSIONS (accepting an invitation).
    members_only: bool = True
    # What the OpenAPI document says of the route, declared beside it (chalicelib/meta/openapi.py
    # reads them; tests/api/test_openapi_document.py fails a route without an id and a tag):
    # the client SDK's function and module names, the If-Match rule, the errors the route
    # itself raises beyond those every route of its access may answer, extra response headers.
    operation_id: str | None = None
    tag: str | None = None
    if_match: IfMatch | None = None
    errors: tuple[type[AppError], ...] = ()
    headers: tuple[str, ...] = ()
    not_modified: bool = False  # answers 304 to an If-None-Match naming its ETag


def _authenticate(headers: dict[str, str]) -> Principal:
    settings = get_settings()
    return get_verifier(settings).verify_header(headers.get("authorization"))


def _text(value: Any, limit: int) -> str | None:
    """A client-supplied string kept for the audit trail: printable, capped in length."""
    if not isinstance(value, str) or not value:
        return None
    return "".join(ch if ch.isprintable() else "?" for ch in value[:limit])


def _origin(request: Any, headers: dict[str, str], request_id: str, principal: Principal | None) -> RequestOrigin:
    identity = (request.context or {}).get("identity") or {}
    return RequestOrigin(
        request_id=request_id,
        principal=principal,
        source_ip=_text(identity.get("sourceIp") if isinstance(identity, dict) else None, MAX_SOURCE_IP),
        user_agent=_text(headers.get("user-agent"), MAX_USER_AGENT),
    )


def _audit_platform_read(method: str, route: str, params: dict[str, str]) -> None:
    """A super-admin read data inside a tenant: the tenant's trail says so, or nothing is
    returned (a failed write is a 500). Writes carry their own events."""
    recording.record_read_access(method, route, {k: str(v)[:MAX_USER_AGENT] for k, v in params.items()})


def _tenant_permissions(tenant: Tenant, request_id: str, principal: Principal,
                        members_only: bool) -> frozenset[Permission]:
    """What the caller's member record grants in ``tenant`` (narrowed by the token's roles)."""
    with tenancy_context.bound(TenantContext(tenant=tenant, request_id=request_id, principal=principal)):
        return authority.granted(principal, members_only=members_only)


def _query(request: Any, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(dict(request.query_params or {}))
    except ValidationError as exc:
        raise validation_error_from_pydantic(exc, location="query") from None


def _caller(spec: RouteSpec, request: Any, headers: dict[str, str],
            request_id: str) -> tuple[Principal | None, RequestOrigin, frozenset[Permission]]:
    """Who calls (the JWT, for routes that take one), where from, and what the token's roles grant."""
    principal = _authenticate(headers) if spec.access in ("tenant", "platform") else None
    if principal is not None:
        bind_log_keys(sub=principal.sub)
    origin = _origin(request, headers, request_id, principal)
    tenancy_context.set_origin(origin)
    granted = permissions_for(principal.roles) if principal else frozenset()
    if spec.access == "platform" and (principal is None or not principal.is_platform_admin):
        raise ForbiddenError("this route is for platform administrators")
    return principal, origin, granted


def _tenant_context(spec: RouteSpec, method: str, headers: dict[str, str], request_id: str,
                    principal: Principal | None, origin: RequestOrigin,
                    granted: frozenset[Permission]) -> tuple[TenantContext | None, frozenset[Permission]]:
    """The resolved tenant's context, and the caller's permissions in it (None: a route with no tenant)."""
    if spec.access not in ("tenant", "public_tenant"):
        return None, granted
    claim = principal.tenant_id if principal else None
    if principal is not None and principal.is_platform_admin and method in READ_METHODS:
        tenant = resolution.resolve_for_platform_read(resolution.references(headers, claim))
    else:
        tenant = resolution.resolve(resolution.references(headers, claim), anonymous=principal is None)
    bind_log_keys(tenant_id=str(tenant.id))
    if principal is not None:
        granted = _tenant_permissions(tenant, request_id, principal, spec.members_only)
    ctx = TenantContext(tenant=tenant, request_id=request_id, principal=principal, permissions=granted,
                        source_ip=origin.source_ip, user_agent=origin.user_agent)
    return ctx, granted


def _call_view(spec: RouteSpec, view: Callable[..., Any], kwargs: dict[str, Any], request: Any,
               request_id: str, ctx: TenantContext | None) -> Response:
    """Parse body and query, then call the view (with ``ctx`` bound, if any) and render its reply."""
    if spec.body is not None:
        kwargs["body"] = http.parse_body(request, spec.body)
    if spec.query is not None:
        kwargs["query"] = _query(request, spec.query)
    if ctx is None:
        return http.render(view(**kwargs), spec.status, request_id)
    with tenancy_context.bound(ctx):
        response = http.render(view(**kwargs), spec.status, request_id)
        if ctx.platform_admin_acting and request.method == "GET" and response.status_code < 400:
            _audit_platform_read(request.method, request.path, request.uri_params or {})
    return response


def _refused(exc: AppError, path: str, request_id: str) -> Response:
    if exc.status in (401, 403):
        security_event("access_refused", code=exc.code, status=exc.status, path=path)
    return http.problem(exc, request_id)


def _failed(exc: Exception, request_id: str) -> Response:
    """A 503 when storage is busy or unreachable; any other unexpected error is a bare 500."""
    unavailable = faults.unavailable_error(exc)
    if unavailable is None:
        log.exception("unhandled error")
        return http.problem(InternalError(), request_id)
    log.warning("storage unavailable", exc_info=True)
    return http.problem(unavailable, request_id)


def _run(spec: RouteSpec, view: Callable[..., Any], kwargs: dict[str, Any]) -> Response:
    """One request through the steps of the module docstring; per-request state is reset
    before and after, and every request is logged once."""
    reset_request_state()
    started = time.perf_counter()
    request = http.current_request()
    request_id = http.request_id_for(request)
    bind_log_keys(request_id=request_id)
    telemetry.request_started(request_id)
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    status = 500
    rate_headers: dict[str, str] = {}
    try:
        principal, origin, granted = _caller(spec, request, headers, request_id)
        ctx, granted = _tenant_context(spec, request.method, headers, request_id, principal, origin, granted)
        if spec.permission is not None and spec.permission not in granted:
            raise ForbiddenError("your roles do not allow this")
        if ctx is not None and rate_limit.applies(spec.access):
            rate_headers = rate_limit.take(ctx)
        response = _call_view(spec, view, kwargs, request, request_id, ctx)
        status = response.status_code
        response.headers.update(rate_headers)
        return response
    except AppError as exc:
        status = exc.status
        telemetry.refused(exc)
        refused = _refused(exc, request.path, request_id)
        refused.headers.update(rate_headers)
        return refused
    except Exception as exc:
        failed = _failed(exc, request_id)
        status = failed.status_code
        return failed
    finally:
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        log.info(
            "request",
            extra={"fields": {
                "method": request.method,
                "path": request.path,
                "status": status,
                "duration_ms": duration_ms,
            }},
        )
        telemetry.request_finished(request.method, request.path, status, duration_ms)
        reset_request_state()


def _route_decorator(spec: RouteSpec) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            configure_logging(get_settings().log_level)
            with tracing.subsegment(f"## {view.__name__}"):
                return _run(spec, view, kwargs)

        wrapper.route_spec = spec  # type: ignore[attr-defined]
        return wrapper

    return decorate


def tenant_route(
    permission: Permission,
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    summary: str = "",
    members_only: bool = True,
    operation_id: str | None = None,
    tag: str | None = None,
    if_match: IfMatch | None = None,
    errors: tuple[type[AppError], ...] = (),
    headers: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    return _route_decorator(RouteSpec("tenant", permission, body, query, response, status, summary,
                                      members_only=members_only, operation_id=operation_id, tag=tag,
                                      if_match=if_match, errors=errors, headers=headers))


def platform_route(
    permission: Permission = Permission.PLATFORM_ADMIN,
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    summary: str = "",
    operation_id: str | None = None,
    tag: str | None = None,
    if_match: IfMatch | None = None,
    errors: tuple[type[AppError], ...] = (),
    headers: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    return _route_decorator(RouteSpec("platform", permission, body, query, response, status, summary,
                                      operation_id=operation_id, tag=tag, if_match=if_match, errors=errors,
                                      headers=headers))


def public_route(
    *, response: type[BaseModel] | None = None, summary: str = "",
    operation_id: str | None = None, tag: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    return _route_decorator(RouteSpec("public", None, None, None, response, 200, summary, operation_id=operation_id,
                                      tag=tag))


def public_tenant_route(
    *, response: type[BaseModel] | None = None, summary: str = "", status: int = 200,
    operation_id: str | None = None, tag: str | None = None, not_modified: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    return _route_decorator(RouteSpec("public_tenant", None, None, None, response, status, summary,
                                      operation_id=operation_id, tag=tag, not_modified=not_modified))
