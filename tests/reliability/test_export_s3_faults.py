"""S3 failing in the middle of an export: the message is retried, the retry completes the
export with every row once, and nothing half-written is left; an S3 failure on the last
receive ends the export ``failed`` with its upload aborted."""
from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import caches
from chalicelib.local import bootstrap
from chalicelib.settings import reset_settings
from chalicelib.tenancy import clients
from tests.exports_support import (
    FakeLambdaContext,
    deliver,
    download,
    export_of,
    open_uploads,
    parse_json_export,
    request,
    seed_customers,
    stored_keys,
    take_messages,
)


@pytest.fixture(autouse=True)
def roomy_limits(client, tenant_a):
    response = client.request("PUT", f"/api/admin/tenants/{tenant_a.id}/limits", role="platform_admin",
                              body={"exports_per_day": 100, "max_concurrent_exports": 10})
    assert response.status_code == 200, response.body


def _s3_fails(tenant: Any, operation: str, times: int) -> list[str]:
    """The tenant's pooled S3 client answers ``operation`` with a 503 ``times`` times (the
    export worker is a queue handler: its client set is the one on the job side)."""
    failed: list[str] = []

    def refuse(**_: Any) -> None:
        if len(failed) < times:
            failed.append(operation)
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, operation)

    with caches.using_job_path():
        s3 = clients.pool().for_tenant(tenant.id).s3
    s3.meta.events.register(f"before-call.s3.{operation}", refuse)
    return failed


def test_s3_failing_mid_export_is_retried_and_completes_every_row_once(client, tenant_a, monkeypatch):
    monkeypatch.setenv("EXPORT_PAGE_SIZE", "50")
    reset_settings()
    seed_customers(tenant_a, 300)
    export_id = request(client, tenant_a, {"format": "json", "notify_email": "o@acme.example",
                                           "include": ["customers"]}).json_body["id"]
    [message] = take_messages()
    # The first run checkpoints (parks its unfinished part in S3), then its next step's
    # S3 calls fail: the message goes back to the queue, the export keeps its checkpoint.
    assert deliver(message, FakeLambdaContext(plenty_calls=2)) == []
    [second] = take_messages()
    failed = _s3_fails(tenant_a, "GetObject", times=1)
    assert deliver(second) == [second["MessageId"]]
    assert failed == ["GetObject"]
    assert export_of(client, tenant_a, export_id)["status"] == "running"
    # The redelivery resumes from the checkpoint and completes.
    assert deliver(second, receive_count=2) == []
    assert take_messages() == []
    done = export_of(client, tenant_a, export_id)
    assert done["status"] == "completed" and done["counts"]["customers"] == 300
    blob, _, _ = download(client, tenant_a, export_id)
    names = sorted(row["name"] for row in parse_json_export(blob)["customers"])
    assert names == sorted(f"Customer {n}" for n in range(300))
    assert open_uploads() == [] and [k for k in stored_keys() if ".pending-" in k] == []


def test_s3_failing_on_the_last_receive_fails_the_export_and_aborts_its_upload(client, tenant_a):
    seed_customers(tenant_a, 20)
    export_id = request(client, tenant_a, {"format": "csv", "notify_email": "o@acme.example"}).json_body["id"]
    [message] = take_messages()
    _s3_fails(tenant_a, "UploadPart", times=100)
    assert deliver(message, receive_count=bootstrap.MAX_RECEIVES) == []  # handled: recorded failed
    failed = export_of(client, tenant_a, export_id)
    assert failed["status"] == "failed" and failed["error"] and failed["sha256"] is None
    assert open_uploads() == [] and stored_keys() == []
