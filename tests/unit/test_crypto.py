"""Encryption layer units, with a fake codec and made-up errors: no AWS."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from chalicelib.crypto import pii
from chalicelib.crypto.codec import Opened, TenantKeys
from chalicelib.crypto.errors import DataIntegrityError, is_transient
from chalicelib.settings import SettingsError, load_settings
from chalicelib.tenancy.context import TenantContext, bound
from chalicelib.tenancy.tenant import Tenant, TenantStatus
from tests.conftest import local_stage_env


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Decrypt")


@pytest.mark.parametrize("error, expected", [
    (_client_error("ThrottlingException"), True),
    (_client_error("KMSInternalException"), True),
    (_client_error("DependencyTimeoutException"), True),
    (EndpointConnectionError(endpoint_url="https://kms"), True),
    (ReadTimeoutError(endpoint_url="https://kms"), True),
    (_client_error("AccessDeniedException"), False),
    (_client_error("InvalidCiphertextException"), False),
    (ValueError("bad"), False),
])
def test_transient_kms_errors_are_told_apart(error, expected):
    assert is_transient(error) is expected


def test_a_transient_cause_is_found_through_the_sdks_wrapping():
    try:
        try:
            raise _client_error("ThrottlingException")
        except ClientError as cause:
            raise RuntimeError("Master Key unable to generate data key") from cause
    except RuntimeError as wrapped:
        assert is_transient(wrapped)
    loop = RuntimeError("self")
    loop.__context__ = loop
    assert not is_transient(loop)


def test_the_grace_period_cannot_be_shorter_than_the_tenant_cache():
    env = {**local_stage_env(), "AWS_REGION": "us-east-1", "JWT_JWKS": '{"keys": []}',
           "TENANT_CACHE_TTL_SECONDS": "10", "KEY_ROTATION_GRACE_SECONDS": "5"}
    env.pop("JWT_JWKS_FILE", None)
    with pytest.raises(SettingsError, match="KEY_ROTATION_GRACE_SECONDS"):
        load_settings(env)
    assert load_settings({**env, "KEY_ROTATION_GRACE_SECONDS": "10"}).key_rotation_grace_seconds == 10


class RecordingCodec:
    """A fake codec: 'seals' by prefixing, records what it was asked."""

    def __init__(self) -> None:
        self.sealed: list[tuple[TenantKeys, dict[str, str], bytes]] = []

    def seal(self, keys: TenantKeys, context: dict[str, str], plaintext: bytes) -> bytes:
        self.sealed.append((keys, context, plaintext))
        return json.dumps({"k": keys.current, "c": context}).encode() + b"\n" + plaintext

    def open(self, keys: TenantKeys, ciphertext: bytes) -> Opened:
        header, plaintext = ciphertext.split(b"\n", 1)
        meta = json.loads(header)
        return Opened(plaintext, meta["c"], frozenset({meta["k"]}))


@pytest.fixture
def fake_codec():
    codec = RecordingCodec()
    previous = pii.use_codec(codec)
    yield codec
    pii.use_codec(previous)


def _tenant(key: str, previous: tuple[str, ...] = ()) -> Tenant:
    now = datetime.now(UTC)
    return Tenant(id=uuid.uuid4(), slug="acme", name="A", display_name="A", status=TenantStatus.ACTIVE, plan="free",
                  created_at=now, updated_at=now, kms_key_arn=key, previous_kms_key_arns=previous)


def test_seal_uses_the_current_key_a_coarse_context_and_binds_the_entity(fake_codec):
    tenant = _tenant("key-new", ("key-old",))
    with bound(TenantContext(tenant=tenant, request_id="t")):
        text = pii.seal("CUS", "c-1", {"name": "Wanda"})
        assert pii.unseal("CUS", "c-1", text) == {"name": "Wanda"}
        assert pii.reseal("CUS", "c-1", text) is None  # already under the current key
    [(keys, context, plaintext)] = fake_codec.sealed
    assert keys == TenantKeys("key-new", ("key-old",))
    assert context == {"tenant_id": str(tenant.id), "kind": "CUS"}  # nothing finer: the cache would split
    assert json.loads(plaintext) == {"e": "c-1", "d": {"name": "Wanda"}}


def test_a_document_under_an_old_key_is_resealed_under_the_current_one(fake_codec):
    old, new = _tenant("key-old"), _tenant("key-new", ("key-old",))
    new = new.model_copy(update={"id": old.id})
    with bound(TenantContext(tenant=old, request_id="t")):
        text = pii.seal("REF", "r-1", {"notes": "n"})
    with bound(TenantContext(tenant=new, request_id="t")):
        resealed = pii.reseal("REF", "r-1", text)
        assert resealed is not None and pii.sealed_under(resealed) == {"key-new"}
        assert pii.unseal("REF", "r-1", resealed) == {"notes": "n"}
        with pytest.raises(DataIntegrityError):
            pii.unseal("PRO", "r-1", resealed)
