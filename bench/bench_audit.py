"""The audit trail (issue 5): what an event adds to a mutating route, and what chaining costs.

**Calls per route.** POST, PATCH and DELETE /api/service-categories are sent through
``chalice.test.Client`` while a ``before-parameter-build.dynamodb`` hook, installed on
every botocore session of the process, records each DynamoDB call and, for a
TransactWriteItems, how many actions it carries. The goal is no extra call: the change
is one TransactWriteItems, and its event is one more action inside it. The tenant
cache is warm (``TENANT_CACHE_TTL_SECONDS=60``) and one uncounted round goes first.

**Added latency.** In-process, with the tenant bound as a route binds it:
``categories.create_category`` (the category's Put and its event's Put in one
TransactWriteItems) against the same transaction without the event (the category item
built as the service builds it, Put alone). The two alternate, so drift falls on both
alike. moto deep-copies the whole table for every action of a transaction (its
rollback), which makes a second action cost in proportion to the table, so the table
is emptied after each pair; the difference is then our code plus moto's per-action
work. In DynamoDB a second action rides in the same request and round trip. The event's
construction alone (changes, id, canonical JSON) is timed too, and its size: the bytes
it adds to the request and the write capacity it costs.

**Chaining and verification.** One tenant with N events (written in batches, as chaining
reads them whatever wrote them): the time to chain them into digests and to verify the
chain, per 1000 events, against moto in-process (no network round trips).
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import Row, World, create_tenant, median, percentile, quiet_request_logs, ratio, world

NAME = "audit"
PATH = "/api/service-categories"


class _Recorder:
    """DynamoDB calls by name, with the action count of each TransactWriteItems."""

    def __init__(self) -> None:
        self.active = False
        self.calls: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def on_call(self, model: Any = None, params: dict[str, Any] | None = None, **_: Any) -> None:
        if self.active:
            with self._lock:
                self.calls.append((model.name, len((params or {}).get("TransactItems") or [])))


def _expect(response: Any, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"expected {status}, got {response.status_code}: {response.body[:300]!r}")
    return response


def _route_rows(w: World, tenant: Any, recorder: _Recorder) -> list[Row]:
    from chalice.test import Client

    from app import app

    headers = {"Authorization": f"Bearer {w.key.token(tenant_id=tenant.id)}", "Content-Type": "application/json"}
    rows: list[Row] = []
    with Client(app, project_dir=str(w.project_dir)) as client:
        requests: list[tuple[str, Callable[[str], Any]]] = [
            ("POST", lambda slug: _expect(client.http.post(PATH, headers=headers, body=json.dumps(
                {"slug": slug, "name": "Brakes"})), 201)),
            ("PATCH", lambda slug: _expect(client.http.patch(f"{PATH}/{slug}", headers={**headers, "If-Match": '"1"'},
                                                             body=json.dumps({"name": "Brake work"})), 200)),
            ("DELETE", lambda slug: _expect(client.http.delete(f"{PATH}/{slug}", headers=headers), 204)),
        ]
        for _, send in requests:  # warm: table descriptions, the tenant cache
            send("warm")
        for method, send in requests:
            recorder.calls, recorder.active = [], True
            try:
                send("counted")
            finally:
                recorder.active = False
            writes = [(op, n) for op, n in recorder.calls if op in (
                "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")]
            actions = sum(n for op, n in writes if op == "TransactWriteItems")
            rows += [
                Row(NAME, f"{method} {PATH}: DynamoDB calls (all)", len(recorder.calls), "calls",
                    "1 (POST), 2 (PATCH, DELETE: read, write)"),
                Row(NAME, f"{method} {PATH}: write calls", len(writes), "calls", "1 (no extra call)"),
                Row(NAME, f"{method} {PATH}: actions in the transaction", actions, "actions", "2 (change + event)"),
            ]
    return rows


def _latency_rows(tenant: Any, iterations: int) -> list[Row]:
    from chalicelib import audit
    from chalicelib.network.categories import service as categories
    from chalicelib.network.categories.models import CategoryCreate
    from chalicelib.store import data, keys
    from chalicelib.store.data import DataItem
    from chalicelib.store.unit_of_work import UnitOfWork
    from chalicelib.tenancy.context import TenantContext, bound

    fields = {"name": "Brakes", "description": None, "active": True}

    def with_event(i: int) -> None:
        categories.create_category(CategoryCreate(slug=f"with-{i}", name="Brakes"))

    def alone(i: int) -> None:
        item = data.new_item(pk=data.partition(keys.CATEGORY), sk=f"alone-{i}", kind=keys.CATEGORY,
                             entity_id=f"alone-{i}", version=1, created_at="2025-01-01T00:00:00.000Z",
                             updated_at="2025-01-01T00:00:00.000Z", data=data.dumps(fields), refs=0, status="active")
        uow = UnitOfWork()
        uow.put("category", item, DataItem.pk.does_not_exist())
        uow.commit()

    def build_event() -> DataItem:
        return audit.event_item(audit.Action.SERVICE_CATEGORY_CREATED, audit.Target("service_category", "brakes"),
                                changes=audit.changes(None, fields, pii=frozenset()))

    def clean() -> None:
        # moto copies the whole table for every action of a transaction (its rollback), so
        # the table is emptied after each pair: both variants always meet the same table.
        for kind in (keys.CATEGORY, *keys.AUDIT_SHARD_KINDS):
            with DataItem.batch_write() as batch:
                for item in DataItem.query(data.partition(kind)):
                    batch.delete(item)

    with bound(TenantContext(tenant=tenant, request_id="bench-audit")):
        data.bind()
        audited: list[float] = []
        plain: list[float] = []
        for i in range(-5, iterations):
            for fn, samples in ((with_event, audited), (alone, plain)):
                started = time.perf_counter()
                fn(i)
                if i >= 0:
                    samples.append(time.perf_counter() - started)
            clean()
        building = []
        for _ in range(iterations):
            started = time.perf_counter()
            event = build_event()
            building.append(time.perf_counter() - started)
        event_bytes = len(json.dumps(event.serialize()))
    with_ms, alone_ms = median(audited) * 1000, median(plain) * 1000
    return [
        Row(NAME, f"create category, change + event, median of {iterations}", with_ms, "ms"),
        Row(NAME, "create category, change + event, p95", percentile(audited, 95) * 1000, "ms"),
        Row(NAME, "the same transaction without the event, median", alone_ms, "ms"),
        Row(NAME, "the same transaction without the event, p95", percentile(plain, 95) * 1000, "ms"),
        Row(NAME, "added by the event: median difference (code + moto)", with_ms - alone_ms, "ms"),
        Row(NAME, "ratio with / without", ratio(with_ms, alone_ms), "x"),
        Row(NAME, "building the event alone (changes, id, JSON), median", median(building) * 1e6, "us"),
        Row(NAME, "event item size (DynamoDB JSON)", event_bytes, "bytes", "< 1 KB (1 WCU; x2 in a transaction)"),
    ]


def _chaining_rows(tenant: Any, events: int) -> list[Row]:
    from chalicelib import audit
    from chalicelib.audit import chain, chaining, recording, trail, verification
    from chalicelib.store import registry
    from chalicelib.store.data import DataItem
    from chalicelib.tenancy.context import TenantContext, bound

    fresh = registry.get_tenant(tenant.id)
    if fresh is None:
        raise RuntimeError("the benchmark's tenant is gone")
    with bound(TenantContext(tenant=fresh, request_id="bench-chain")):
        # Written in batches: how events got there does not change what chaining reads.
        with DataItem.batch_write() as batch:
            for i in range(events):
                batch.save(recording.event_item(audit.Action.SERVICE_CATEGORY_CREATED,
                                                audit.Target("service_category", f"chain-{i}")))
        started = time.perf_counter()
        chained = chaining.chain_closed_hours(datetime.now(UTC) + timedelta(hours=2))
        chain_s = time.perf_counter() - started
        started = time.perf_counter()
        report = verification.verify()
        verify_s = time.perf_counter() - started
        items = list(trail.iter_events())
        started = time.perf_counter()
        entries = [[item.sk, chain.item_hash(item)] for item in items]
        chain.digest_hash(chain.make_digest(fresh.id, items[0].sk, items[-1].sk, entries, chain.GENESIS,
                                            datetime.now(UTC)))
        code_s = time.perf_counter() - started
    if not report["valid"]:
        raise RuntimeError(f"the benchmark's own trail does not verify: {report['first_problem']}")
    checked = report["events_checked"]
    return [
        Row(NAME, f"chain {checked} events ({chained['digests_written']} digest(s))", chain_s * 1000, "ms"),
        Row(NAME, "chain, per 1000 events", chain_s * 1000 / checked * 1000, "ms"),
        Row(NAME, f"verify {checked} events", verify_s * 1000, "ms"),
        Row(NAME, "verify, per 1000 events", verify_s * 1000 / checked * 1000, "ms"),
        Row(NAME, "of which our code: hashing + digest, per 1000 events", code_s * 1000 / len(items) * 1000, "ms",
            "the rest is moto's Query (it sorts the partition per page)"),
    ]


def run(quick: bool = False) -> list[Row]:
    from chalicelib import aws

    iterations, events = (30, 500) if quick else (200, 5000)
    recorder = _Recorder()
    aws.install_session_hook("before-parameter-build.dynamodb", recorder.on_call)
    try:
        with world({"TENANT_CACHE_TTL_SECONDS": "60"}) as w, quiet_request_logs():
            rows = _latency_rows(create_tenant("bench-audit-latency"), iterations)
            rows += _route_rows(w, create_tenant("bench-audit"), recorder)
            rows += _chaining_rows(create_tenant("bench-audit-chain"), events)
            return rows
    finally:
        aws.remove_session_hook("before-parameter-build.dynamodb", recorder.on_call)
