"""The handler pipeline: ``@tenant_handler`` binds the tenant per SQS message and fails closed.

An SQS message names its tenant twice (message attribute and body; they must agree);
the tenant is re-read from the registry and must be active. Per-request state is reset
before and after each message. Scheduled per-tenant work is declared with
``@tenant_schedule`` (``entry/fanout.py``): one message per tenant, run by its queue's consumer.
"""
from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from chalice.app import SQSEvent

from chalicelib import caches, lazy, tracing
from chalicelib.entry import telemetry
from chalicelib.entry.process import reset_request_state
from chalicelib.logs import bind_log_keys, configure_logging, security_event
from chalicelib.settings import get_settings
from chalicelib.tenancy import context as tenancy_context
from chalicelib.tenancy.context import NOT_FOR_A_TENANT, Delivery, TenantContext
from chalicelib.tenancy.tenant import TenantStatus

if TYPE_CHECKING:
    from chalicelib.store import registry
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    registry = lazy.module("chalicelib.store.registry")

log = logging.getLogger("request")

TENANT_ATTRIBUTE = "tenant_id"
TenantOf = Callable[[dict[str, Any], Any], "UUID | str | None"]


def message_tenant_id(record: dict[str, Any], body: Any) -> UUID | None:
    attribute = (record.get("messageAttributes") or {}).get(TENANT_ATTRIBUTE) or {}
    from_attribute = attribute.get("stringValue")
    from_body = body.get(TENANT_ATTRIBUTE) if isinstance(body, dict) else None
    if not from_attribute or from_attribute != from_body:
        return None
    try:
        return UUID(from_attribute)
    except ValueError:
        return None


def receive_count(record: dict[str, Any]) -> int:
    try:
        return max(1, int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        return 1


def _handle_message(fn: Callable[[dict[str, Any]], Any], record: dict[str, Any],
                    tenant_of: TenantOf | None = None, lambda_context: Any = None) -> bool:
    """Process one SQS record with its tenant bound; False when it must be retried."""
    reset_request_state()
    message_id = str(record.get("messageId", ""))
    bind_log_keys(request_id=message_id)
    telemetry.unit_started(message_id)
    outcome = "failed"
    remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
    tenancy_context.set_delivery(Delivery(message_id, receive_count(record), remaining))
    try:
        try:
            body = json.loads(record.get("body") or "")
        except ValueError:
            body = None
        tenant_id = (tenant_of or message_tenant_id)(record, body)
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
        reset_request_state()


def tenant_handler(fn: Callable[[dict[str, Any]], Any] | None = None, *,
                   tenant_of: TenantOf | None = None) -> Any:
    """Bind the tenant for each message of an SQS batch (from attribute and body).

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
        raise TypeError(f"{fn.__name__} takes SQS messages; a per-tenant schedule is @tenant_schedule")

    # Jobs walk every tenant: their lookups use the caches' job partitions (chalicelib.caches).
    return caches.job_path(wrapper)
