"""The limits' jobs: S3 storage events (SQS) and the daily usage reconciliation.

Registered in app.py: ``storage_events`` on ``STORAGE_EVENTS_QUEUE`` (the assets bucket's
notifications; the tenant is the one whose prefix holds the object, ``limits.storage``),
and ``usage_reconciliation`` daily, once per active tenant. Locally the runner pumps the
queue and fires the schedule; ``python -m chalicelib.cli schedule run usage_reconciliation``
runs it now.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import lazy
from chalicelib.entry import tenant_handler, tenant_schedule
from chalicelib.settings import STORAGE_EVENTS_QUEUE

if TYPE_CHECKING:
    from uuid import UUID

    from chalicelib.limits import reconciliation, storage
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    reconciliation, storage = lazy.module("chalicelib.limits.reconciliation"), lazy.module("chalicelib.limits.storage")

QUEUE = STORAGE_EVENTS_QUEUE
BATCH_SIZE = 10
RECONCILE_SCHEDULE = "cron(10 2 * * ? *)"


def _tenant_of_event(record: dict[str, Any], body: Any) -> UUID | str | None:
    # A function here, not storage.tenant_of_event itself: naming that at declaration
    # would import the storage accounting into every function's cold start.
    return storage.tenant_of_event(record, body)


@tenant_handler(tenant_of=_tenant_of_event)
def handle_storage_event(body: dict[str, Any]) -> None:
    storage.apply_events(body)


@tenant_schedule
def reconcile_usage(_detail: dict[str, Any]) -> None:
    reconciliation.reconcile()
