"""The key-rotation worker: one message advances one tenant's rotation (key_rotation.service).

A message carries the tenant id twice, as the ``tenant_id`` attribute and in the JSON
body, and ``@tenant_handler`` binds that tenant (or refuses the message). A message may
arrive twice or late: ``rotation.run`` is idempotent and resumes from its checkpoint.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import lazy
from chalicelib.crypto import KEY_ROTATION_QUEUE
from chalicelib.entry import tenant_handler

if TYPE_CHECKING:
    from chalicelib.key_rotation import service as rotation
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    rotation = lazy.module("chalicelib.key_rotation.service")


QUEUE = KEY_ROTATION_QUEUE
# One message at a time: each runs up to rotation.RUN_BUDGET_SECONDS.
BATCH_SIZE = 1


@tenant_handler
def handle_key_rotation(body: dict[str, Any]) -> None:
    rotation_id = body.get("rotation_id")
    if not isinstance(rotation_id, str) or not rotation_id:
        raise ValueError("a key-rotation message names its rotation")
    rotation.run(rotation_id)
