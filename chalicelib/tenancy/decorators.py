"""The decorators every entry point goes through.

``@tenant_route(permission=...)`` does, in this order, once per request: reset
per-request state; authenticate the JWT; resolve the tenant (and so check the token's
claim against the other sources, and the tenant's status: a super-admin's GET also
reaches a suspended or soft-deleted tenant, read-only and audited); check the permission;
apply the tenant's rate limit (chalicelib/ratelimit); bind the ``TenantContext``; call
the view; always unbind. ``@platform_route`` is the
same for super-admin routes (no tenant), ``@public_route`` for the few routes that need
neither, ``@public_tenant_route`` for tenant-resolved routes readable without a token.
``@tenant_handler`` binds the tenant per SQS message, or per active tenant for a
scheduled event, and fails closed.

Each wrapper carries a ``route_spec`` that the OpenAPI document and the route
inventory test read.
"""
from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from chalice import Response
from chalice.app import SQSEvent
from pydantic import BaseModel, ValidationError

from chalicelib import http, tracing
from chalicelib.auth.permissions import Permission, permissions_for
from chalicelib.auth.principal import Principal
from chalicelib.auth.tokens import get_verifier
from chalicelib.errors import (
    AppError,
    ForbiddenError,
    InternalError,
    validation_error_from_pydantic,
)
from chalicelib.logs import bind_log_keys, configure_logging, reset_log_keys, security_event
from chalicelib.ratelimit import service as rate_limit
from chalicelib.settings import get_settings
from chalicelib.store import registry
from chalicelib.store.faults import unavailable_error
from chalicelib.tenancy import context as tenancy_context
from chalicelib.tenancy import telemetry
from chalicelib.tenancy.context import Delivery, RequestOrigin, TenantContext
from chalicelib.tenancy.resolution import references, resolve, resolve_for_platform_read
from chalicelib.tenants.models import Tenant, TenantStatus

log = logging.getLogger("request")
# Kept in audit events: an IPv6 address is at most 45 characters; user agents run long.
MAX_SOURCE_IP = 64
MAX_USER_AGENT = 256
Access = Literal["public", "public_tenant", "tenant", "platform"]
# A super-admin may read (never write) inside a suspended or soft-deleted tenant.
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class RouteSpec:
    access: Access
    permission: Permission | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    summary: str


def _reset_request_state() -> None:
    tenancy_context.clear()
    reset_log_keys()


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
    # Imported here: the audit package imports tenancy.context, so a module-level import
    # would make importing either package first a cycle.
    from chalicelib.audit.recording import record_read_access

    record_read_access(method, route, {k: str(v)[:MAX_USER_AGENT] for k, v in params.items()})


def _tenant_permissions(tenant: Tenant, request_id: str, principal: Principal) -> frozenset[Permission]:
    """What the token's roles grant in ``tenant``: its stored roles (cached), else the defaults."""
    # Imported here: members imports the data store, which imports tenancy.context.
    from chalicelib.members.roles import permissions_in

    with tenancy_context.bound(TenantContext(tenant=tenant, request_id=request_id, principal=principal)):
        return permissions_in(principal.roles)


def _query(request: Any, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(dict(request.query_params or {}))
    except ValidationError as exc:
        raise validation_error_from_pydantic(exc, location="query") from None


def _run(spec: RouteSpec, view: Callable[..., Any], kwargs: dict[str, Any]) -> Response:
    _reset_request_state()
    started = time.perf_counter()
    request = http.current_request()
    request_id = http.request_id_for(request)
    bind_log_keys(request_id=request_id)
    telemetry.request_started(request_id)
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    status = 500
    rate_headers: dict[str, str] = {}
    try:
        principal = _authenticate(headers) if spec.access in ("tenant", "platform") else None
        if principal is not None:
            bind_log_keys(sub=principal.sub)
        origin = _origin(request, headers, request_id, principal)
        tenancy_context.set_origin(origin)
        granted = permissions_for(principal.roles) if principal else frozenset()
        if spec.access == "platform" and (principal is None or not principal.is_platform_admin):
            raise ForbiddenError("this route is for platform administrators")
        ctx: TenantContext | None = None
        if spec.access in ("tenant", "public_tenant"):
            claim = principal.tenant_id if principal else None
            if principal is not None and principal.is_platform_admin and request.method in READ_METHODS:
                tenant = resolve_for_platform_read(references(headers, claim))
            else:
                tenant = resolve(references(headers, claim))
            bind_log_keys(tenant_id=str(tenant.id))
            if principal is not None:
                granted = _tenant_permissions(tenant, request_id, principal)
            ctx = TenantContext(tenant=tenant, request_id=request_id, principal=principal, permissions=granted,
                                source_ip=origin.source_ip, user_agent=origin.user_agent)
        if spec.permission is not None and spec.permission not in granted:
            raise ForbiddenError("your roles do not allow this")
        if ctx is not None and rate_limit.applies(spec.access):
            rate_headers = rate_limit.take(ctx)
        if spec.body is not None:
            kwargs["body"] = http.parse_body(request, spec.body)
        if spec.query is not None:
            kwargs["query"] = _query(request, spec.query)
        if ctx is not None:
            with tenancy_context.bound(ctx):
                response = http.render(view(**kwargs), spec.status, request_id)
                if ctx.platform_admin_acting and request.method == "GET" and response.status_code < 400:
                    _audit_platform_read(request.method, request.path, request.uri_params or {})
        else:
            response = http.render(view(**kwargs), spec.status, request_id)
        status = response.status_code
        response.headers.update(rate_headers)
        return response
    except AppError as exc:
        status = exc.status
        telemetry.refused(exc)
        if exc.status in (401, 403):
            security_event("access_refused", code=exc.code, status=exc.status, path=request.path)
        refused = http.problem(exc, request_id)
        refused.headers.update(rate_headers)
        return refused
    except Exception as exc:
        unavailable = unavailable_error(exc)
        if unavailable is None:
            log.exception("unhandled error")
            return http.problem(InternalError(), request_id)
        log.warning("storage unavailable", exc_info=True)
        status = unavailable.status
        return http.problem(unavailable, request_id)
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
        _reset_request_state()


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
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    return _route_decorator(RouteSpec("tenant", permission, body, query, response, status, summary))


def platform_route(
    permission: Permission = Permission.PLATFORM_ADMIN,
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    summary: str = "",
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    return _route_decorator(RouteSpec("platform", permission, body, query, response, status, summary))


def public_route(
    *, response: type[BaseModel] | None = None, summary: str = ""
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    return _route_decorator(RouteSpec("public", None, None, None, response, 200, summary))


def public_tenant_route(
    *, response: type[BaseModel] | None = None, summary: str = ""
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    return _route_decorator(RouteSpec("public_tenant", None, None, None, response, 200, summary))


# ---- event handlers -------------------------------------------------------------------

TENANT_ATTRIBUTE = "tenant_id"
# What a ``tenant_of`` function returns for a message that concerns no tenant and needs no
# work (S3's one-off ``s3:TestEvent``): it is acknowledged, and nothing runs.
NOT_FOR_A_TENANT = "not-for-a-tenant"
TenantOf = Callable[[dict[str, Any], Any], "UUID | str | None"]


def _message_tenant_id(record: dict[str, Any], body: Any) -> UUID | None:
    attribute = (record.get("messageAttributes") or {}).get(TENANT_ATTRIBUTE) or {}
    from_attribute = attribute.get("stringValue")
    from_body = body.get(TENANT_ATTRIBUTE) if isinstance(body, dict) else None
    if not from_attribute or from_attribute != from_body:
        return None
    try:
        return UUID(from_attribute)
    except ValueError:
        return None


def _receive_count(record: dict[str, Any]) -> int:
    try:
        return max(1, int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        return 1


def _handle_message(fn: Callable[[dict[str, Any]], Any], record: dict[str, Any],
                    tenant_of: TenantOf | None = None, lambda_context: Any = None) -> bool:
    """Process one SQS record with its tenant bound; False when it must be retried."""
    _reset_request_state()
    message_id = str(record.get("messageId", ""))
    bind_log_keys(request_id=message_id)
    telemetry.unit_started(message_id)
    outcome = "failed"
    remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
    tenancy_context.set_delivery(Delivery(message_id, _receive_count(record), remaining))
    try:
        try:
            body = json.loads(record.get("body") or "")
        except ValueError:
            body = None
        tenant_id = (tenant_of or _message_tenant_id)(record, body)
        if tenant_id == NOT_FOR_A_TENANT:
            outcome = "skipped"
            return True
        tenant = registry.get_tenant(tenant_id) if isinstance(tenant_id, UUID) else None
        if tenant is None or tenant.status != TenantStatus.ACTIVE:
            security_event("message_refused", message_id=message_id, reason="no valid active tenant")
            outcome = "refused"
            return False
        bind_log_keys(tenant_id=str(tenant.id))
        with tenancy_context.bound(TenantContext(tenant=tenant, request_id=message_id)):
            fn(body)
        outcome = "ok"
        return True
    except Exception:
        log.exception("message handler failed")
        return False
    finally:
        telemetry.message_finished(fn.__name__, outcome)
        _reset_request_state()


def _handle_schedule(fn: Callable[[dict[str, Any]], Any], event: Any) -> dict[str, Any]:
    """Run ``fn`` once per active tenant; one tenant's failure does not stop the others."""
    failed: list[str] = []
    processed = 0
    detail = dict(getattr(event, "detail", None) or {})
    for tenant in registry.iter_tenants(TenantStatus.ACTIVE):
        _reset_request_state()
        run_id = f"{getattr(event, 'event_id', 'schedule')}:{tenant.id}"
        bind_log_keys(request_id=run_id, tenant_id=str(tenant.id))
        telemetry.unit_started(run_id, str(tenant.id))
        outcome = "failed"
        try:
            with tenancy_context.bound(TenantContext(tenant=tenant, request_id=run_id)):
                fn(detail)
            processed += 1
            outcome = "ok"
        except Exception:
            log.exception("scheduled handler failed for a tenant")
            failed.append(str(tenant.id))
        finally:
            telemetry.job_tenant_finished(fn.__name__, outcome)
            _reset_request_state()
    return {"tenants_processed": processed, "tenants_failed": failed}


def tenant_handler(fn: Callable[[dict[str, Any]], Any] | None = None, *,
                   tenant_of: TenantOf | None = None) -> Any:
    """Bind the tenant for an SQS message (from attribute and body) or for each tenant.

    ``@tenant_handler(tenant_of=...)`` is for messages we do not write (S3 event
    notifications): ``tenant_of(record, body)`` names the message's tenant from what AWS
    put in it (None refuses the message, as a missing tenant does).
    """
    if fn is None:
        return functools.partial(tenant_handler, tenant_of=tenant_of)

    @functools.wraps(fn)
    def wrapper(event: Any) -> dict[str, Any]:
        configure_logging(get_settings().log_level)
        if isinstance(event, SQSEvent):
            lambda_context = getattr(event, "context", None)
            failures = []
            for record in (r.to_dict() for r in event):
                with tracing.subsegment(f"## {fn.__name__}"):
                    if not _handle_message(fn, record, tenant_of, lambda_context):
                        failures.append({"itemIdentifier": record["messageId"]})
            # Partial batch response: only failed messages return to the queue.
            return {"batchItemFailures": failures}
        with tracing.subsegment(f"## {fn.__name__}"):
            return _handle_schedule(fn, event)

    return wrapper
