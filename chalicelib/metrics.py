"""Metrics as CloudWatch Embedded Metric Format (EMF): JSON lines on stdout that CloudWatch
Logs turns into metrics, with no API call and no permission (no ``PutMetricData``).

Why our own writer and not Powertools ``Metrics``: the format is a documented JSON shape,
the standard library writes it, and this module imports nothing but the standard library
(about 2 ms in ``python -X importtime -c "import app"``; DESIGN.md puts Powertools at
~35 ms, not installed here). The catalogue of metrics and their dimensions is
``CATALOGUE`` below and the README's "Operations: metrics and traces" section.

Cost discipline: CloudWatch bills each distinct (name, dimensions) pair. Only
``TenantRequests`` and ``TenantErrors`` carry ``TenantId`` (one metric per active
tenant each; ``TenantErrors`` only exists for tenants that had a 5xx). Everything else
per tenant (latency, status, route, request id) rides in the same JSON document as
properties, searchable with Logs Insights and ranked by Contributor Insights, at log
prices.

Each entry point (request, SQS message, scheduled run per tenant) calls :func:`begin`
and :func:`flush`; what is recorded in between is aggregated and printed as one EMF
document per dimension set. Recorded with no batch open (a cold import, a test calling a
service directly) a metric is printed at once. Every value is also added to a process
summary (:func:`summary`) that ``GET /api/admin/metrics`` shows: per Lambda container in
AWS, the whole run locally. Its rows are bounded: one per (metric, dimensions) of the
catalogue, except the tenant-dimensioned ones, of which it keeps the
``SUMMARY_TENANT_ROWS`` tenants seen most recently and folds the rest into one row per
metric with ``TenantId`` ``(others)`` (totals stay exact). Unbounded, a row per tenant
cost 343 bytes (tracemalloc): 3.3 MiB in a container that served 10,000 tenants, 33 MiB
at 100,000; bounded, about 0.6 MiB however many.
"""
from __future__ import annotations

import contextvars
import json
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

NAMESPACE = "TenantPlatform"
COUNT, MILLISECONDS = "Count", "Milliseconds"
# EMF allows at most 100 values per metric in one document.
MAX_VALUES = 100

# name -> (unit, dimension names besides Stage): the only metrics this module will emit.
CATALOGUE: dict[str, tuple[str, tuple[str, ...]]] = {
    "Requests": (COUNT, ("StatusClass",)),
    "Latency": (MILLISECONDS, ("Route",)),
    "TenantRequests": (COUNT, ("TenantId",)),
    "TenantErrors": (COUNT, ("TenantId",)),
    "MessagesProcessed": (COUNT, ("Handler", "Outcome")),
    "JobTenantRuns": (COUNT, ("Job", "Outcome")),
    "GuardRefusals": (COUNT, ()),
    "RateLimitRefusals": (COUNT, ()),
    "LimitRefusals": (COUNT, ("Limit",)),
    "AwsCalls": (COUNT, ("Service", "Operation")),
    "AwsThrottles": (COUNT, ("Service",)),
    "CacheLookups": (COUNT, ("Cache", "Result")),
    "ApiKeyStaleness": (MILLISECONDS, ()),
    "NotificationsSent": (COUNT, ("Channel", "Outcome")),
}


class UnknownMetricError(ValueError):
    """A metric or dimension outside ``CATALOGUE``: refused, so cardinality stays reviewed."""


@dataclass
class _Batch:
    # (dimension items) -> name -> values
    groups: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("metrics_batch", default=None)
_summary_lock = threading.Lock()
_Key = tuple[str, tuple[tuple[str, str], ...]]
# (name, dimensions) -> [count, sum, min, max]: bounded by the catalogue's cardinality...
_summary: dict[_Key, list[float]] = {}
# ...but for its TenantId dimension: those rows, least recently recorded first, bounded.
_tenant_rows: OrderedDict[_Key, list[float]] = OrderedDict()
SUMMARY_TENANT_ROWS = 1_000
OTHER_TENANTS = "(others)"
_started = time.time()
_stream: TextIO | None = None


def _stage() -> str:
    # The environment, not settings: this module sits below settings and must never fail.
    return os.environ.get("STAGE", "unknown")


def use_stream(stream: TextIO | None) -> TextIO | None:
    """Print EMF documents to ``stream`` (tests); None: stdout, where Lambda ships them."""
    global _stream
    previous, _stream = _stream, stream
    return previous


def begin(**properties: Any) -> None:
    """Open the batch of one invocation unit (a request, a message, a tenant's run)."""
    _batch.set(_Batch(properties={k: v for k, v in properties.items() if v is not None}))


def add_properties(**properties: Any) -> None:
    """Facts for the open batch's documents (tenant id, status, latency): searchable, free of metric cost."""
    batch = _batch.get()
    if batch is not None:
        batch.properties.update({k: v for k, v in properties.items() if v is not None})


def _dimensions(name: str, dimensions: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    if name not in CATALOGUE:
        raise UnknownMetricError(f"{name} is not in the metrics catalogue")
    expected = CATALOGUE[name][1]
    if tuple(sorted(dimensions)) != tuple(sorted(expected)):
        raise UnknownMetricError(f"{name} takes the dimensions {expected}, not {tuple(dimensions)}")
    return (("Stage", _stage()), *((k, str(dimensions[k])) for k in expected))


def record(name: str, value: float = 1.0, **dimensions: str) -> None:
    """Add ``value`` to metric ``name`` with ``dimensions`` (exactly the catalogue's)."""
    dims = _dimensions(name, dimensions)
    value = float(value)
    with _summary_lock:
        if "TenantId" in dimensions:
            _add(_tenant_rows, (name, dims), [1, value, value, value])
            _tenant_rows.move_to_end((name, dims))
            while len(_tenant_rows) > SUMMARY_TENANT_ROWS:
                (old_name, old_dims), row = _tenant_rows.popitem(last=False)
                others = tuple((k, OTHER_TENANTS if k == "TenantId" else v) for k, v in old_dims)
                _add(_summary, (old_name, others), row)
        else:
            _add(_summary, (name, dims), [1, value, value, value])
    batch = _batch.get()
    if batch is None:
        _print(_document(dims, {name: [value]}, {}))
        return
    batch.groups.setdefault(dims, {}).setdefault(name, []).append(value)


def _add(rows: dict[_Key, list[float]], key: _Key, row: list[float]) -> None:
    """Merge ``row`` ([count, sum, min, max]) into ``rows[key]``."""
    kept = rows.get(key)
    if kept is None:
        rows[key] = list(row)
        return
    kept[0] += row[0]
    kept[1] += row[1]
    kept[2], kept[3] = min(kept[2], row[2]), max(kept[3], row[3])


def flush() -> None:
    """Print the open batch (one EMF document per dimension set) and close it."""
    batch = _batch.get()
    _batch.set(None)
    if batch is None:
        return
    for dims, values in batch.groups.items():
        _print(_document(dims, values, batch.properties))


def _document(dims: tuple[tuple[str, str], ...], values: dict[str, list[float]],
              properties: Mapping[str, Any]) -> dict[str, Any]:
    names = [k for k, _ in dims]
    document: dict[str, Any] = {**properties, **dict(dims), "_aws": {
        "Timestamp": int(time.time() * 1000),
        "CloudWatchMetrics": [{
            "Namespace": NAMESPACE,
            "Dimensions": [names],
            "Metrics": [{"Name": name, "Unit": CATALOGUE[name][0]} for name in values],
        }],
    }}
    for name, points in values.items():
        points = points[:MAX_VALUES]
        document[name] = points[0] if len(points) == 1 else points
    return document


def _print(document: dict[str, Any]) -> None:
    stream = _stream or sys.stdout
    stream.write(json.dumps(document, default=str, separators=(",", ":")) + "\n")
    stream.flush()


def summary() -> dict[str, Any]:
    """Every metric this process recorded since it started (or :func:`reset`): count, sum, min, max;
    tenants past the ``SUMMARY_TENANT_ROWS`` most recent ones summed as ``TenantId`` ``(others)``."""
    with _summary_lock:
        rows = [{"name": name, "dimensions": dict(dims), "unit": CATALOGUE[name][0], "count": int(row[0]),
                 "sum": round(row[1], 3), "min": row[2], "max": row[3]}
                for (name, dims), row in sorted([*_summary.items(), *_tenant_rows.items()])]
    return {"since": _started, "metrics": rows}


def reset() -> None:
    global _started
    with _summary_lock:
        _summary.clear()
        _tenant_rows.clear()
        _started = time.time()
    _batch.set(None)


def status_class(status: int) -> str:
    return f"{status // 100}xx"
