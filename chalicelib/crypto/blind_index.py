"""Keyed hashes (HMAC-SHA256) of normalised PII, for uniqueness and lookups without PII in keys.

The key is a random per-tenant secret stored in the tenant's own partition, created on
first use with a conditional write (so concurrent first uses agree). It is stored only
sealed under the tenant's KMS key (``crypto.pii``, kind ``SECRET``, encryption context
tenant + kind), so a copy of the table alone cannot test guesses against the indexes.
A key rotation re-seals it; the secret itself, and so every index, stays the same.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from uuid import UUID

from pynamodb.exceptions import PutError

from chalicelib.caches import TtlCache
from chalicelib.crypto import pii
from chalicelib.store import data, keys
from chalicelib.tenancy.context import current_tenant_id

_SECRET_SK = "BLIND_INDEX"
# The secret never changes (a rotation re-seals it), so entries live until evicted.
_cache: TtlCache[UUID, bytes] = TtlCache(4096, name="blind_index_secrets")


def _tenant_secret() -> bytes:
    tenant = current_tenant_id()
    hit, cached = _cache.get(tenant)
    if hit and cached is not None:
        return cached
    pk = data.partition(keys.TENANT_SECRET)
    item = data.get(pk, _SECRET_SK)
    if item is None:
        secret_text = base64.b64encode(secrets.token_bytes(32)).decode()
        candidate = data.new_item(pk=pk, sk=_SECRET_SK, kind=keys.TENANT_SECRET, entity_id=_SECRET_SK,
                                  pii=pii.seal(keys.TENANT_SECRET, _SECRET_SK, {"secret": secret_text}))
        try:
            candidate.save(condition=data.DataItem.pk.does_not_exist())
            item = candidate
        except PutError as exc:
            if not data.condition_failed(exc):
                raise  # throttled or unreachable: not a race to settle by reading
            item = data.get(pk, _SECRET_SK)  # a concurrent first use won; use its secret
    if item is None:
        raise RuntimeError("blind index secret unavailable")
    secret = base64.b64decode(pii.unseal(keys.TENANT_SECRET, _SECRET_SK, item.pii)["secret"])
    _cache.put(tenant, secret)
    return secret


def clear_cache() -> None:
    _cache.clear()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def blind_index(purpose: str, value: str) -> str:
    digest = hmac.new(_tenant_secret(), f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return digest
