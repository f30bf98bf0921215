"""Tenant-bound data access runs on the tenant's own clients and AssumeRole credentials.

moto's STS answers AssumeRole (with session tags) and accepts any credentials, so these
tests prove which credentials and which client each request uses; moto does not
evaluate the role's IAM conditions (infra's golden policy test covers those).
"""
from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pynamodb.transactions import TransactWrite

from chalicelib import aws
from chalicelib.crypto import pii
from chalicelib.settings import get_settings
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.guard import IsolationViolationError
from chalicelib.store.registry import ReservationItem
from chalicelib.tenancy import clients
from chalicelib.tenancy.context import NoTenantBoundError
from chalicelib.tenancy.credentials import TenantCredentialCache
from tests.conftest import body_of
from tests.security.encryption_support import as_tenant, table_items

CATEGORIES = "/api/service-categories"


class RecordingSts:
    """moto's STS, with every AssumeRole request and answer kept."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def assume_role(self, **params: Any) -> dict[str, Any]:
        answer = aws.client("sts").assume_role(**params)
        tenant = params["Tags"][0]["Value"]
        with self._lock:
            self.requests.append(params)
            self.answers.setdefault(tenant, []).append(answer["Credentials"])
        return answer

    def tenants(self) -> list[str]:
        return [r["Tags"][0]["Value"] for r in self.requests]

    def access_key(self, tenant: Any, number: int = -1) -> str:
        return str(self.answers[str(tenant.id)][number]["AccessKeyId"])


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sts(aws_mock: None, clock: Clock) -> RecordingSts:
    """A fresh pool (as in a new container) whose AssumeRoles are recorded, on a movable clock."""
    recorder = RecordingSts()
    settings = get_settings()
    assert settings.tenant_credentials == "assume_role" and settings.tenant_data_role_arn
    cache = TenantCredentialCache(lambda: recorder, settings.tenant_data_role_arn, clock=clock)
    clients.use_pool(clients.TenantClientPool(settings.region, cache))
    yield recorder
    clients.use_pool(None)


def signed_with(client: Any) -> list[str]:
    """The access key of every request ``client`` sends from now on (from its SigV4 header)."""
    seen: list[str] = []

    def record(request: Any, **_: Any) -> None:
        authorization = request.headers["Authorization"]
        authorization = authorization.decode() if isinstance(authorization, bytes) else authorization
        seen.append(authorization.split("Credential=", 1)[1].split("/", 1)[0])

    client.meta.events.register("before-send", record)
    return seen


def platform_key() -> str:
    return str(aws.session().get_credentials().access_key)


def create_category(client: Any, tenant: Any, slug: str) -> None:
    response = client.request("POST", CATEGORIES, tenant=tenant, body={"slug": slug, "name": slug.title()})
    assert response.status_code == 201, response.body


# ---- AssumeRole: the role, the tag, once per tenant ---------------------------------------

def test_requests_of_a_tenant_assume_the_data_role_once_with_its_tenant_tag(client, tenant_a, tenant_b, sts):
    for _ in range(4):
        assert client.get(CATEGORIES, tenant=tenant_a).status_code == 200
    create_category(client, tenant_a, "tyres")
    assert client.get(CATEGORIES, tenant=tenant_b).status_code == 200
    assert sts.tenants() == [str(tenant_a.id), str(tenant_b.id)]
    request = sts.requests[0]
    assert request["RoleArn"] == get_settings().tenant_data_role_arn
    assert request["Tags"] == [{"Key": "tenant_id", "Value": str(tenant_a.id)}]
    assert request["TransitiveTagKeys"] == ["tenant_id"]
    assert request["RoleSessionName"] == f"tenant-{tenant_a.id}"


def test_each_tenants_data_requests_are_signed_with_its_own_role_credentials(client, tenant_a, tenant_b, sts):
    client.get(CATEGORIES, tenant=tenant_a)
    client.get(CATEGORIES, tenant=tenant_b)
    seen_a = signed_with(clients.pool().for_tenant(tenant_a.id).dynamodb)
    seen_b = signed_with(clients.pool().for_tenant(tenant_b.id).dynamodb)
    create_category(client, tenant_a, "tyres")  # a transaction with its audit event
    client.get(f"{CATEGORIES}/tyres", tenant=tenant_a)
    client.get(CATEGORIES, tenant=tenant_b)
    assert seen_a and set(seen_a) == {sts.access_key(tenant_a)}
    assert seen_b and set(seen_b) == {sts.access_key(tenant_b)}
    assert sts.access_key(tenant_a) != sts.access_key(tenant_b)
    assert platform_key() not in seen_a + seen_b  # never the process's own credentials


def test_each_tenant_has_one_pooled_client_set_of_its_own(aws_mock, tenant_a, tenant_b, sts):
    pool = clients.pool()
    a, b = pool.for_tenant(tenant_a.id), pool.for_tenant(tenant_b.id)
    assert pool.for_tenant(tenant_a.id) is a and a.dynamodb is pool.for_tenant(tenant_a.id).dynamodb
    assert a.kms is a.kms and a.dynamodb is not b.dynamodb and a.kms is not b.kms
    # One connection pool per tenant client: nothing is shared between tenants.
    assert a.dynamodb._endpoint.http_session is not b.dynamodb._endpoint.http_session
    assert set(pool.pooled_tenants()) == {tenant_a.id, tenant_b.id}


def test_concurrent_first_requests_of_a_tenant_make_one_assume_role(aws_mock, tenant_a, sts):
    data.bind()
    barrier, errors = threading.Barrier(8), []

    def read() -> None:
        try:
            barrier.wait()
            with as_tenant(tenant_a):
                data.get(keys.data_partition(tenant_a.id, keys.CATEGORY), "none")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and sts.tenants() == [str(tenant_a.id)]


def test_credentials_are_refreshed_near_expiry_and_the_pooled_client_is_kept(client, tenant_a, sts, clock):
    client.get(CATEGORIES, tenant=tenant_a)
    pooled = clients.pool().for_tenant(tenant_a.id).dynamodb
    seen = signed_with(pooled)
    expiry = sts.answers[str(tenant_a.id)][0]["Expiration"]
    clock.now = expiry - timedelta(minutes=4)  # inside the 5-minute refresh margin
    assert client.get(CATEGORIES, tenant=tenant_a).status_code == 200
    assert sts.tenants() == [str(tenant_a.id)] * 2
    assert clients.pool().for_tenant(tenant_a.id).dynamodb is pooled
    assert seen and set(seen) == {sts.access_key(tenant_a, 1)}


# ---- the other services: the tenant's KMS key and S3 prefix -------------------------------

def test_tenant_key_use_goes_through_the_tenants_kms_client(aws_mock, tenant_a, sts):
    kms = clients.pool().for_tenant(tenant_a.id).kms
    seen = signed_with(kms)
    pii.reset_state()  # the fixture's seeded principal left a data key cached: start cold
    with as_tenant(tenant_a):
        sealed = pii.seal("CUS", "c-1", {"name": "Wanda"})
        assert pii.unseal("CUS", "c-1", sealed) == {"name": "Wanda"}
    assert seen and set(seen) == {sts.access_key(tenant_a)}


def test_asset_uploads_are_presigned_with_the_tenants_role_credentials(client, tenant_a, sts):
    response = client.request("POST", "/api/tenant/branding/assets", tenant=tenant_a,
                              body={"purpose": "logo", "content_type": "image/png"})
    assert response.status_code == 201, response.body
    fields = body_of(response)["fields"]
    answer = sts.answers[str(tenant_a.id)][-1]
    assert fields["x-amz-credential"].split("/", 1)[0] == answer["AccessKeyId"]
    assert fields["x-amz-security-token"] == answer["SessionToken"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert answer["Expiration"] >= expires  # the credentials outlive the upload window


# ---- refusals -------------------------------------------------------------------------------

def test_a_data_access_with_no_tenant_bound_is_refused_before_any_credentials(aws_mock, tenant_a, sts):
    data.bind()
    pk = keys.data_partition(tenant_a.id, keys.CATEGORY)
    with pytest.raises(IsolationViolationError):
        DataItem.get(pk, "x")
    with pytest.raises(IsolationViolationError):
        list(DataItem.query(pk))
    with pytest.raises(IsolationViolationError):
        with TransactWrite(connection=data.transaction_connection()) as tx:
            tx.save(DataItem(pk=pk, sk="x", tenant_id=str(tenant_a.id), kind=keys.CATEGORY))
    with pytest.raises(NoTenantBoundError):
        pii.seal("CUS", "c-1", {"name": "Wanda"})
    with pytest.raises(NoTenantBoundError):
        clients.for_current_tenant()
    assert sts.requests == [] and clients.pool().pooled_tenants() == []
    assert not [i for i in table_items() if i["pk"]["S"] == pk]


def test_tenant_credentials_never_carry_a_registry_request(aws_mock, tenant_a, sts):
    data.bind()
    reservation = ReservationItem(pk=keys.slug_reservation_pk("stolen"), sk=keys.RESERVATION_SK,
                                  tenant_id=str(tenant_a.id), kind="slug")
    with as_tenant(tenant_a), pytest.raises(IsolationViolationError):
        with TransactWrite(connection=data.transaction_connection()) as tx:
            tx.save(DataItem(pk=keys.data_partition(tenant_a.id, keys.CATEGORY), sk="x",
                             tenant_id=str(tenant_a.id), kind=keys.CATEGORY))
            tx.save(reservation)
    with pytest.raises(ReservationItem.DoesNotExist):
        ReservationItem.get(keys.slug_reservation_pk("stolen"), keys.RESERVATION_SK)


def _platform_put(item: DataItem, *, new: bool = True) -> None:
    with TransactWrite(connection=data.platform_transaction_connection()) as tx:
        tx.save(item, condition=DataItem.pk.does_not_exist() if new else None)


def test_a_platform_transaction_may_only_add_audit_and_provisioning_items(aws_mock, tenant_a, tenant_b):
    data.bind()

    def item(tenant: Any, kind: str, sk: str = "x") -> DataItem:
        return DataItem(pk=keys.data_partition(tenant.id, kind), sk=sk, tenant_id=str(tenant.id), kind=kind)

    with as_tenant(tenant_a):
        for refused in (item(tenant_a, keys.CATEGORY), item(tenant_a, keys.MEMBER), item(tenant_b, keys.AUDIT)):
            with pytest.raises(IsolationViolationError):
                _platform_put(refused)
        with pytest.raises(IsolationViolationError):
            _platform_put(item(tenant_a, keys.AUDIT, "overwrite"), new=False)  # may not replace
        with pytest.raises(IsolationViolationError):
            with TransactWrite(connection=data.platform_transaction_connection()) as tx:
                tx.delete(item(tenant_a, keys.AUDIT))
        _platform_put(item(tenant_a, keys.AUDIT, "allowed"))
    with pytest.raises(IsolationViolationError):
        _platform_put(item(tenant_a, keys.AUDIT, "unbound"))  # no tenant bound
    stored = {(i["pk"]["S"], i["sk"]["S"]) for i in table_items()}
    assert (keys.data_partition(tenant_a.id, keys.AUDIT), "allowed") in stored
    assert not {sk for _, sk in stored} & {"x", "overwrite", "unbound"}


def test_shared_mode_is_for_the_local_stage_and_assumes_nothing(aws_mock, tenant_a, monkeypatch):
    from chalicelib.settings import reset_settings

    monkeypatch.setenv("TENANT_CREDENTIALS", "shared")
    reset_settings()
    aws.reset_clients()
    pool = clients.pool()
    assert pool.credentials is None
    tenant_clients = pool.for_tenant(tenant_a.id)
    assert tenant_clients.dynamodb._request_signer._credentials.access_key == platform_key()
    with as_tenant(tenant_a):
        data.bind()
        assert data.get(keys.data_partition(tenant_a.id, keys.CATEGORY), "none") is None



def test_the_local_bootstrap_creates_the_tenant_role_with_its_tenant_conditions(aws_mock):
    settings = get_settings()
    name = settings.tenant_data_role_arn.rsplit("/", 1)[-1]
    iam = aws.client("iam")
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Arn"] == settings.tenant_data_role_arn
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert set(trust["Statement"][0]["Action"]) == {"sts:AssumeRole", "sts:TagSession"}
    policy = iam.get_role_policy(RoleName=name, PolicyName="tenant-data")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    items = next(s for s in policy["Statement"] if s["Sid"] == "TenantItems")
    assert items["Condition"] == {"ForAllValues:StringLike": {
        "dynamodb:LeadingKeys": ["T#${aws:PrincipalTag/tenant_id}#*"]}}
    assert "dynamodb:Scan" not in items["Action"]
