"""X-Ray tracing where Lambda traces: a subsegment per request, message and provider call,
and one per AWS call (DynamoDB, KMS, S3, SQS, STS...), each annotated with the tenant id.

Active tracing (infra) makes Lambda set ``AWS_XRAY_DAEMON_ADDRESS``; only then is the
X-Ray SDK imported and botocore patched (every client's calls become subsegments named
for the service). Locally, in tests and with tracing off nothing is imported: the SDK
adds tens of milliseconds to a cold start (``python -X importtime``), paid only by
functions that trace. Annotations are indexed by X-Ray, so a trace search
``annotation.tenant_id = "<uuid>"`` finds one tenant's requests.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib import aws
from chalicelib.logs import current_log_keys

DAEMON_VARIABLE = "AWS_XRAY_DAEMON_ADDRESS"
TENANT_ANNOTATION = "tenant_id"
_lock = threading.Lock()
_recorder: Any = None


def active() -> bool:
    return bool(os.environ.get(DAEMON_VARIABLE))


def _annotate_aws_call(**_: Any) -> None:
    """botocore's ``before-call``: the patched call's subsegment is current; name its tenant."""
    annotate()


def recorder() -> Any:
    """The SDK's recorder, botocore patched, on first use in a traced process."""
    global _recorder
    with _lock:
        if _recorder is None:
            # Imported here: a measured cold-start deferral (module docstring); untraced processes never pay it.
            from aws_xray_sdk.core import patch, xray_recorder

            xray_recorder.configure(context_missing="IGNORE_ERROR")
            patch(("botocore",))
            aws.install_session_hook("before-call", _annotate_aws_call)
            _recorder = xray_recorder
        return _recorder


def annotate(**annotations: Any) -> None:
    """Put the bound tenant id (and ``annotations``) on the current subsegment, if tracing."""
    if not active():
        return
    entity = recorder().current_subsegment()
    if entity is None:
        return
    tenant_id = current_log_keys().get(TENANT_ANNOTATION)
    if tenant_id is not None:
        entity.put_annotation(TENANT_ANNOTATION, str(tenant_id))
    for key, value in annotations.items():
        if value is not None:
            entity.put_annotation(key, value if isinstance(value, (bool, int, float)) else str(value))


@contextmanager
def subsegment(name: str, **annotations: Any) -> Iterator[None]:
    """A subsegment around the block (nothing when not tracing), annotated on entry."""
    if not active():
        yield
        return
    xray = recorder()
    entity = xray.begin_subsegment(name)
    try:
        annotate(**annotations)
        yield
    except Exception as exc:
        if entity is not None:
            entity.add_exception(exc, [])
        raise
    finally:
        if entity is not None:
            xray.end_subsegment()
