"""DynamoDB's transaction conflicts, which moto does not produce, emulated on the client.

DynamoDB cancels a ``TransactWriteItems`` with ``TransactionConflict`` for an item that
another transaction in progress also includes (the AWS guide's "Transaction conflict
handling"); moto applies transactions one after another and never does. So a race that
would storm on one hot item (a tenant's single usage counter) passes against moto.
:class:`TransactionConflicts` restores the behaviour for the process that installs it: a
``before-parameter-build`` hook marks the items of each transaction in flight until its
``after-call``, and a transaction that includes an item in flight is cancelled the way
DynamoDB cancels it (reason ``TransactionConflict`` for that item, ``None`` for others).
Used by the concurrency tests and the hot-partition benchmark; never installed in AWS.
"""
from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws

_HELD = "conflicts.held"


def _item_key(action: dict[str, Any]) -> tuple[str, str]:
    (request,) = action.values()
    key = request["Key"] if "Key" in request else {
        name: value for name, value in request["Item"].items() if name in ("pk", "sk")}
    return request["TableName"], repr(sorted(key.items()))


class TransactionConflicts:
    """Install as a context manager; counts what it saw (``transactions``, ``conflicts``).

    An item is held from the moment its transaction is sent until its answer, or for
    ``hold_seconds`` at most: moto's server applies transactions one at a time, so its
    round trip includes the wait behind every other transaction in the queue, while
    DynamoDB holds an item only while its own transaction commits (tens of
    milliseconds). Holding for the whole round trip would turn every concurrent request
    into a conflict, whatever the design.
    """

    def __init__(self, hold_seconds: float = 0.03) -> None:
        self._hold = hold_seconds
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], tuple[object, float]] = {}
        self.transactions = 0
        self.conflicts = 0

    def _before(self, model: Any = None, params: Any = None, context: Any = None, **_: Any) -> None:
        if getattr(model, "name", "") != "TransactWriteItems":
            return
        item_keys = [_item_key(action) for action in params["TransactItems"]]
        now = time.monotonic()
        with self._lock:
            self.transactions += 1
            for key in [k for k, (_, until) in self._held.items() if until <= now]:
                del self._held[key]  # an answer that never came (a failed call) holds nothing forever
            clashes = [key in self._held and self._held[key][1] > now for key in item_keys]
            if any(clashes):
                self.conflicts += 1
            else:
                owner = object()
                self._held.update({key: (owner, now + self._hold) for key in item_keys})
                context[_HELD] = (owner, item_keys)
                return
        reasons = [{"Code": "TransactionConflict" if clash else "None"} for clash in clashes]
        raise ClientError({"Error": {"Code": "TransactionCanceledException",
                                     "Message": "Transaction cancelled (emulated conflict)"},
                           "CancellationReasons": reasons,
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "TransactWriteItems")

    def _after(self, context: Any = None, **_: Any) -> None:
        held = context.pop(_HELD, None) if context is not None else None
        if held is None:
            return
        owner, item_keys = held
        with self._lock:
            for key in item_keys:
                if key in self._held and self._held[key][0] is owner:
                    del self._held[key]

    def __enter__(self) -> TransactionConflicts:
        aws.install_session_hook("before-parameter-build.dynamodb", self._before)
        aws.install_session_hook("after-call.dynamodb", self._after)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        aws.remove_session_hook("before-parameter-build.dynamodb", self._before)
        aws.remove_session_hook("after-call.dynamodb", self._after)
