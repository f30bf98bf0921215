"""What the entry points (``decorators``) report as metrics, in one place.

A request ends with one EMF document per dimension set: ``Requests`` by status class,
``Latency`` by route, and, for a request resolved to a tenant, ``TenantRequests`` (and
``TenantErrors`` on a 5xx) by tenant; the tenant id, route, status and latency ride along
as properties. Refusals that operators watch get their own counters: rate limits (429
``rate_limited``) and plan limits (``limit_exceeded`` and the export limits, by limit).
A message counts under ``MessagesProcessed`` by handler and outcome, each delivery of a
tenant's scheduled job (``entry/fanout.py``) under ``JobTenantRuns`` by job and outcome (a
tenant's failure is a partial batch failure, not a failed invocation: without this
counter the function's error metric would stay 0 while the message heads for the DLQ).
"""
from __future__ import annotations

from chalicelib import metrics, tracing
from chalicelib.errors import AppError, RateLimitedError
from chalicelib.logs import current_log_keys

# Plan-limit refusals by code: the code names the limit unless the error says which.
LIMIT_CODES = frozenset({"limit_exceeded", "export_daily_limit", "export_concurrency_limit"})


def request_started(request_id: str) -> None:
    metrics.begin(request_id=request_id)


def refused(exc: AppError) -> None:
    if isinstance(exc, RateLimitedError) and exc.code == RateLimitedError.code:
        metrics.record("RateLimitRefusals")
    elif exc.code in LIMIT_CODES:
        metrics.record("LimitRefusals", Limit=str(exc.extra.get("resource") or exc.code))


def request_finished(method: str, route: str, status: int, duration_ms: float) -> None:
    tenant_id = current_log_keys().get("tenant_id")
    status_class = metrics.status_class(status)
    metrics.add_properties(tenant_id=tenant_id, route=f"{method} {route}", status=status,
                           status_class=status_class, latency_ms=duration_ms)
    tracing.annotate(route=f"{method} {route}", status=status)
    metrics.record("Requests", StatusClass=status_class)
    metrics.record("Latency", duration_ms, Route=f"{method} {route}")
    if tenant_id is not None:
        metrics.record("TenantRequests", TenantId=str(tenant_id))
        if status >= 500:
            metrics.record("TenantErrors", TenantId=str(tenant_id))
    metrics.flush()


def unit_started(unit_id: str, tenant_id: str | None = None) -> None:
    metrics.begin(request_id=unit_id, tenant_id=tenant_id)


def message_finished(handler: str, outcome: str) -> None:
    metrics.add_properties(tenant_id=current_log_keys().get("tenant_id"))
    tracing.annotate(outcome=outcome)
    metrics.record("MessagesProcessed", Handler=handler, Outcome=outcome)
    metrics.flush()


def job_tenant_finished(job: str, outcome: str) -> None:
    metrics.record("JobTenantRuns", Job=job, Outcome=outcome)
    metrics.flush()
