"""The scheduled retry of notifications a provider did not take (``notifications.outbox``)."""
from __future__ import annotations

from typing import Any

from chalicelib.entry import tenant_handler
from chalicelib.notifications import retry_outbox

RETRY_SCHEDULE = "rate(5 minutes)"


@tenant_handler
def retry_notifications(_detail: dict[str, Any]) -> None:
    retry_outbox()
