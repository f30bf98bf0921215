"""Smoke test of a deployed stage: two tenants, isolation over HTTP, and isolation by real IAM.

Deploys nothing. Creates two tenants through the admin API, checks that what one holds
is invisible from the other, then assumes the tenant data-access role as tenant A (the
same AssumeRole with a ``tenant_id`` session tag the functions make) and proves that
AWS itself refuses A's session B's items, objects and key, while A's own prefix works.
Removes what it created. Skipped, with the reason in the run's summary, unless the
variables of tests/e2e/conftest.py are set (README, Deploy).
"""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.conftest import skip_reason

REASON = skip_reason()
if REASON is not None:
    pytest.skip(REASON, allow_module_level=True)

import boto3  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

URL = os.environ.get("E2E_STAGE_URL", "").rstrip("/")
TIMEOUT = 30


def admin(method: str, path: str, *, tenant: str | None = None, body: Any = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {os.environ['E2E_ADMIN_TOKEN']}"}
    if tenant is not None:
        headers["X-Tenant-ID"] = tenant
    return requests.request(method, URL + path, headers=headers, json=body, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def session() -> boto3.session.Session:
    return boto3.session.Session(profile_name=os.environ["E2E_AWS_PROFILE"])


@pytest.fixture(scope="module")
def outputs(session: boto3.session.Session) -> dict[str, str]:
    [stack] = session.client("cloudformation").describe_stacks(StackName=os.environ["E2E_STACK"])["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def _active(tenant_id: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        view = admin("GET", f"/api/admin/tenants/{tenant_id}").json()
        if view.get("status") == "active":
            return
        time.sleep(2)
    raise AssertionError(f"tenant {tenant_id} did not become active")


@pytest.fixture(scope="module")
def tenants() -> Iterator[list[str]]:
    created: list[str] = []
    try:
        for _ in range(2):
            slug = f"e2e-{uuid.uuid4().hex[:10]}"
            response = admin("POST", "/api/admin/tenants", body={
                "slug": slug, "name": slug, "display_name": slug, "admin_email": f"admin@{slug}.example"})
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])
            _active(created[-1])
        yield created
    finally:
        for tenant_id in created:
            admin("DELETE", f"/api/admin/tenants/{tenant_id}")


def test_what_one_tenant_holds_is_invisible_from_the_other_over_http(tenants):
    a, b = tenants
    slug = f"e2e-{uuid.uuid4().hex[:8]}"

    assert admin("POST", "/api/service-categories", tenant=a, body={"slug": slug, "name": "E2E"}).status_code == 201

    assert admin("GET", f"/api/service-categories/{slug}", tenant=a).status_code == 200
    assert admin("GET", f"/api/service-categories/{slug}", tenant=b).status_code == 404
    listed_b = admin("GET", "/api/service-categories", tenant=b).json()["items"]
    assert slug not in [c["slug"] for c in listed_b]
    # A cursor of tenant A is refused in tenant B.
    page = admin("GET", "/api/service-categories?limit=1", tenant=a).json()
    if page.get("next_cursor"):
        refused = admin("GET", f"/api/service-categories?cursor={page['next_cursor']}", tenant=b)
        assert refused.status_code in (400, 422)
    assert admin("GET", "/api/tenant", tenant=str(uuid.uuid4())).status_code == 404


def _denied(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


def test_tenant_scoped_credentials_are_refused_another_tenants_items_objects_and_key(tenants, session, outputs):
    a, b = tenants
    region = session.region_name
    answer = session.client("sts").assume_role(
        RoleArn=outputs["TenantRoleArn"], RoleSessionName=f"e2e-{a}", DurationSeconds=900,
        Tags=[{"Key": "tenant_id", "Value": a}], TransitiveTagKeys=["tenant_id"])["Credentials"]
    scoped = boto3.session.Session(aws_access_key_id=answer["AccessKeyId"], aws_secret_access_key=answer[
        "SecretAccessKey"], aws_session_token=answer["SessionToken"], region_name=region)
    dynamodb, s3, kms = scoped.client("dynamodb"), scoped.client("s3"), scoped.client("kms")
    table, bucket = outputs["DataTableName"], outputs["ExportsBucketName"]

    def query(tenant: str) -> Any:
        return dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk",
                              ExpressionAttributeValues={":pk": {"S": f"T#{tenant}#CAT"}})

    query(a)  # its own partition: allowed
    assert _denied(lambda: query(b)) == "AccessDeniedException"
    own = f"tenants/{a}/e2e-probe"
    s3.put_object(Bucket=bucket, Key=own, Body=b"probe")
    s3.delete_object(Bucket=bucket, Key=own)
    assert _denied(lambda: s3.put_object(Bucket=bucket, Key=f"tenants/{b}/e2e-probe", Body=b"x")) == "AccessDenied"
    stage = os.environ["E2E_STACK"].rsplit("-", 1)[-1]  # tenant-platform-<stage>
    key_b = f"alias/tenant-platform/{stage}/tenant/{b}"
    code = _denied(lambda: kms.encrypt(KeyId=key_b, Plaintext=b"x", EncryptionContext={"tenant_id": b, "kind": "E2E"}))
    assert code in ("AccessDeniedException", "NotFoundException")  # KMS may hide an alias it refuses
