"""The export worker (SQS) and the hourly export cleanup (schedule); the tenant is bound."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from chalicelib import lazy
from chalicelib.entry import tenant_handler, tenant_schedule
from chalicelib.settings import EXPORTS_QUEUE

if TYPE_CHECKING:
    from chalicelib.exports import service, worker
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    service = lazy.module("chalicelib.exports.service")
    worker = lazy.module("chalicelib.exports.worker")

QUEUE = EXPORTS_QUEUE
# One message at a time: each runs until its checkpoint margin before the deadline.
BATCH_SIZE = 1
CLEANUP_SCHEDULE = "rate(1 hour)"


@tenant_handler
def handle_export(body: dict[str, Any]) -> None:
    export_id, step = body.get("export_id"), body.get("step")
    if not isinstance(export_id, str) or not isinstance(step, int) or isinstance(step, bool) or step < 1:
        raise ValueError("an export message names its export and step")
    worker.run(UUID(export_id), step)


@tenant_schedule
def cleanup_exports(detail: dict[str, Any]) -> dict[str, int]:
    return service.cleanup()
