"""Metrics are CloudWatch EMF documents printed by each entry point: per request (status
class, route latency, per-tenant count and 5xx), per message and per tenant of a job
(outcome), refusals (guard, rate limit, plan limits), KMS/STS calls and cache lookups;
super-admins read the process's summary at ``GET /api/admin/metrics``."""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import metrics
from tests.conftest import body_of


@pytest.fixture
def emf() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    metrics.reset()
    metrics.use_stream(stream)
    yield stream
    metrics.use_stream(None)
    metrics.reset()


def documents(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def points(stream: io.StringIO, name: str) -> list[dict[str, Any]]:
    """The documents that carry metric ``name``, each checked against the EMF specification."""
    found = []
    for doc in documents(stream):
        [directive] = doc["_aws"]["CloudWatchMetrics"]
        names = [m["Name"] for m in directive["Metrics"]]
        assert directive["Namespace"] == "TenantPlatform" and isinstance(doc["_aws"]["Timestamp"], int)
        for dimension_set in directive["Dimensions"]:
            assert all(isinstance(doc.get(d), str) for d in dimension_set), doc  # every dimension has a value
        assert all(n in doc for n in names)
        if name in names:
            found.append(doc)
    return found


def test_a_tenant_request_is_counted_by_status_class_route_and_tenant(client, tenant_a, emf):
    assert client.get("/api/tenant", tenant=tenant_a).status_code == 200
    assert client.get("/api/professionals/not-a-uuid", tenant=tenant_a).status_code in (404, 422)
    [ok, refused] = points(emf, "Requests")
    assert (ok["StatusClass"], refused["StatusClass"]) == ("2xx", "4xx")
    assert ok["Stage"] == "local" and ok["tenant_id"] == str(tenant_a.id) and ok["route"] == "GET /api/tenant"
    assert ok["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stage", "StatusClass"]]
    [latency, _] = points(emf, "Latency")
    assert latency["Route"] == "GET /api/tenant" and latency["Latency"] >= 0
    tenants = points(emf, "TenantRequests")
    assert [d["TenantId"] for d in tenants] == [str(tenant_a.id)] * 2
    assert tenants[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stage", "TenantId"]]
    assert points(emf, "TenantErrors") == []  # no 5xx


def test_a_5xx_counts_as_the_tenants_error(client, tenant_a, emf):
    from tests.security.encryption_support import kms_error, kms_fault

    with kms_fault(lambda: kms_error("InternalFailure"), ("Decrypt", "GenerateDataKey")):
        response = client.request("POST", "/api/customers", tenant=tenant_a, body={"name": "Casey"})
    assert response.status_code >= 500
    [error] = points(emf, "TenantErrors")
    assert error["TenantId"] == str(tenant_a.id) and error["status"] == response.status_code


def test_rate_limit_and_plan_limit_refusals_are_counted(client, tenant_a, emf):
    from chalicelib.ratelimit import RateLimits
    from chalicelib.ratelimit import service as rate_limit

    rate_limit.use_limits_source(lambda _tenant: RateLimits(0.001, 1, 1_000))
    statuses = [client.get("/api/tenant", tenant=tenant_a).status_code for _ in range(3)]
    assert statuses[0] == 200 and 429 in statuses
    assert len(points(emf, "RateLimitRefusals")) == statuses.count(429)


def test_guard_refusals_are_counted(tenant_a, tenant_b, emf):
    from chalicelib.store import data
    from chalicelib.store.guard import IsolationViolationError
    from tests.audit_helpers import bound

    with bound(tenant_a), pytest.raises(IsolationViolationError):
        data.get(f"T#{tenant_b.id}#PRO", "x")
    [refusal] = points(emf, "GuardRefusals")
    assert refusal["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stage"]]


def test_kms_calls_and_cache_lookups_are_counted(client, tenant_a, emf):
    client.request("POST", "/api/customers", tenant=tenant_a, body={"name": "Casey"})
    client.get("/api/tenant", tenant=tenant_a)
    calls = [(d["Service"], d["Operation"]) for d in points(emf, "AwsCalls")]
    assert ("kms", "GenerateDataKey") in calls
    lookups = {(d["Cache"], d["Result"]) for d in points(emf, "CacheLookups")}
    assert ("tenant_records", "hit") in lookups


def test_messages_and_scheduled_runs_count_their_outcomes(tenant_a, emf):
    from app import app
    from chalicelib.local.pump import EventPump
    from chalicelib.settings import get_settings

    unknown = "00000000-0000-4000-8000-000000000000"
    event = {"Records": [{"messageId": "m-1", "receiptHandle": "r", "body": json.dumps({"tenant_id": unknown}),
                          "attributes": {}, "messageAttributes": {"tenant_id": {"stringValue": unknown}},
                          "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"}]}
    result = app.handler_map["notifications_sender"](event, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    [refused] = points(emf, "MessagesProcessed")
    assert (refused["Handler"], refused["Outcome"]) == ("send_notification", "refused")
    EventPump(app, get_settings().region).fire("notifications_retry")
    [run] = points(emf, "JobTenantRuns")
    assert (run["Job"], run["Outcome"]) == ("retry_notifications", "ok")


def test_an_unknown_metric_or_dimension_is_refused(emf):
    with pytest.raises(metrics.UnknownMetricError):
        metrics.record("Whatever")
    with pytest.raises(metrics.UnknownMetricError):
        metrics.record("Requests", StatusClass="2xx", TenantId="t")  # tenant ids only where budgeted


def test_platform_admins_read_the_summary_and_nobody_else(client, tenant_a, emf):
    client.get("/api/tenant", tenant=tenant_a)
    assert client.get("/api/admin/metrics", tenant=tenant_a).status_code == 403
    response = client.get("/api/admin/metrics", role="platform_admin")
    assert response.status_code == 200, response.body
    rows = body_of(response)["metrics"]
    [tenant_row] = [r for r in rows if r["name"] == "TenantRequests"]
    assert tenant_row["dimensions"] == {"Stage": "local", "TenantId": str(tenant_a.id)} and tenant_row["count"] == 1


def test_the_summary_keeps_the_most_recent_tenants_and_sums_the_others_exactly(emf, monkeypatch):
    monkeypatch.setattr(metrics, "SUMMARY_TENANT_ROWS", 3)
    for tenant, latency in [("t1", 1), ("t2", 2), ("t1", 3), ("t3", 4), ("t4", 5), ("t5", 6)]:
        metrics.record("TenantRequests", latency, TenantId=tenant)
    metrics.record("Requests", StatusClass="2xx")

    rows = {r["dimensions"].get("TenantId"): r for r in metrics.summary()["metrics"] if r["name"] == "TenantRequests"}

    # t1 was recorded again after t2, so t2 went first, then t1: the three most recent stay
    assert set(rows) == {"t3", "t4", "t5", metrics.OTHER_TENANTS}
    others = rows[metrics.OTHER_TENANTS]
    assert (others["count"], others["sum"], others["min"], others["max"]) == (3, 6.0, 1.0, 3.0)
    assert sum(r["count"] for r in rows.values()) == 6 and sum(r["sum"] for r in rows.values()) == 21.0
    assert [r["count"] for r in metrics.summary()["metrics"] if r["name"] == "Requests"] == [1]
