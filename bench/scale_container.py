"""One warm container serving tenant after tenant: its memory, for ``bench_scale`` (c).

Run by ``bench_scale`` as a child process (``python -m bench.scale_container RESULTS``),
so that what is measured is the app's process alone: the tenants live in moto's server
in the parent (``AWS_ENDPOINT_URL``). Reads ``{"tenants": [[tenant_id, token], ...],
"every": K, "project_dir": ...}`` on stdin, sends one ``GET /api/professionals`` per
tenant through ``chalice.test.Client`` (the app as a Lambda container runs it, without
sockets), and appends a JSON line to RESULTS every K tenants: tenants served, the
process's resident memory (``VmRSS``) and its peak (``VmHWM``), and answers by status.
The last line also has the per-cache hit and miss counts (the ``CacheLookups`` metric)
and the AWS calls the app made, by service and operation (``AwsCalls``).
"""
from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} is not in /proc/self/status")


def _recorded() -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Cache lookups by cache and result; AWS calls by service and operation."""
    from chalicelib import metrics

    lookups: dict[str, dict[str, int]] = {}
    calls: dict[str, int] = {}
    for row in metrics.summary()["metrics"]:
        dims = row["dimensions"]
        if row["name"] == "CacheLookups":
            lookups.setdefault(dims["Cache"], {})[dims["Result"]] = int(row["sum"])
        elif row["name"] == "AwsCalls":
            calls[f"{dims['Service']}:{dims['Operation']}"] = int(row["sum"])
    return lookups, calls


def main(results_path: str) -> int:
    job: dict[str, Any] = json.load(sys.stdin)
    from chalice.test import Client

    from app import app
    from chalicelib import metrics

    metrics.use_stream(open(os.devnull, "w"))  # noqa: SIM115 - for the process's life
    statuses: Counter[int] = Counter()
    tenants = job["tenants"]
    every = max(1, int(job["every"]))
    with Client(app, project_dir=job["project_dir"]) as client, open(results_path, "a") as out:
        def report(served: int, last: bool) -> None:
            line: dict[str, Any] = {"served": served, "rss_kib": _status_kib("VmRSS"),
                                    "peak_kib": _status_kib("VmHWM"), "statuses": dict(statuses)}
            if last:
                line["cache_lookups"], line["aws_calls"] = _recorded()
            out.write(json.dumps(line) + "\n")
            out.flush()

        report(0, False)
        for served, (_tenant_id, token) in enumerate(tenants, 1):
            response = client.http.get("/api/professionals?limit=5", headers={"Authorization": f"Bearer {token}"})
            statuses[response.status_code] += 1
            if served % every == 0 or served == len(tenants):
                report(served, served == len(tenants))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
