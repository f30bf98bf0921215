"""Seal and unseal the one encrypted document of an item, under the bound tenant's key.

Every item that holds PII (or a secret) keeps it in one attribute, ``pii``, as base64
text of one Encryption SDK message. What binds a ciphertext to where it belongs:

* the tenant's own KMS keys: a strict provider knows only the bound tenant's keys, so a
  message from another tenant has no data key it can unwrap;
* the encryption context ``{"tenant_id", "kind"}``, authenticated by the SDK and compared
  again after decryption. It stays that coarse on purpose: the SDK partitions its
  data-key cache by context, so anything finer would defeat the cache;
* the entity id, the finer fact, bound inside the plaintext (``{"e": id, "d": doc}``) and
  checked on open, so a document moved between two items of one tenant is refused too.

A document that fails any check is never returned: the caller gets a plain 500
(``DataIntegrityError``) and the security log gets an event saying which check failed.
"""
from __future__ import annotations

import base64
import binascii
import json
import sys
from typing import Any
from uuid import UUID

from chalicelib.crypto.codec import Codec, Opened, TenantKeys
from chalicelib.crypto.errors import DataIntegrityError, UnreadableCiphertextError
from chalicelib.logs import security_event
from chalicelib.store import registry
from chalicelib.tenancy.context import current_context
from chalicelib.tenancy.resolution import invalidate_tenant
from chalicelib.tenancy.tenant import Tenant

CONTEXT_TENANT = "tenant_id"
CONTEXT_KIND = "kind"

_override: Codec | None = None


def use_codec(codec: Codec | None) -> Codec | None:
    """Swap the codec in this process, returning the previous override.

    The benchmark uses it to time the same routes without encryption; production never
    calls it, and there is no setting or environment variable that turns encryption off.
    """
    global _override
    previous, _override = _override, codec
    return previous


def reset_state() -> None:
    """Forget keyrings and cached data keys, without importing the SDK if nothing used it."""
    envelope = sys.modules.get("chalicelib.crypto.envelope")
    if envelope is not None:
        envelope.reset()


def _codec() -> Codec:
    if _override is not None:
        return _override
    from chalicelib.crypto import envelope  # the SDK is imported on first use only

    return envelope.codec()


def tenant_keys(tenant: Tenant) -> TenantKeys:
    return TenantKeys(tenant.kms_key_arn, tuple(tenant.previous_kms_key_arns))


def encryption_context(tenant_id: UUID, kind: str) -> dict[str, str]:
    return {CONTEXT_TENANT: str(tenant_id), CONTEXT_KIND: kind}


def seal(kind: str, entity_id: str, document: dict[str, Any]) -> str:
    """``document`` encrypted under the bound tenant's current key, as base64 text."""
    tenant = current_context().tenant
    plaintext = json.dumps({"e": entity_id, "d": document}, separators=(",", ":"), sort_keys=True, default=str)
    sealed = _codec().seal(tenant_keys(tenant), encryption_context(tenant.id, kind), plaintext.encode())
    return base64.b64encode(sealed).decode("ascii")


def unseal(kind: str, entity_id: str, text: str | None) -> dict[str, Any]:
    """The document ``seal(kind, entity_id, ...)`` made in the bound tenant; else a 500."""
    document, _ = _open(kind, entity_id, text)
    return document


def reseal(kind: str, entity_id: str, text: str | None) -> str | None:
    """``text`` sealed again under the current key, or None if it already is (rotation)."""
    document, key_ids = _open(kind, entity_id, text)
    if key_ids == {current_context().tenant.kms_key_arn}:
        return None
    return seal(kind, entity_id, document)


def sealed_under(text: str) -> frozenset[str]:
    """The KMS keys a sealed document of the bound tenant is wrapped under (admin checks)."""
    return _decrypt(text).key_ids


def _reject(kind: str, entity_id: str, reason: str) -> DataIntegrityError:
    ctx = current_context()
    security_event("sealed_document_rejected", tenant_id=str(ctx.tenant_id), kind=kind, entity_id=entity_id,
                   reason=reason, request_id=ctx.request_id)
    return DataIntegrityError()


def _fresh_keys(tenant_id: UUID) -> TenantKeys | None:
    """The tenant's keys as the registry has them now (this process's copy may predate a rotation)."""
    tenant = registry.get_tenant(tenant_id)
    if tenant is None:
        return None
    invalidate_tenant(tenant)
    return tenant_keys(tenant)


def _decrypt(text: str | None) -> Opened:
    """Open with the bound tenant's keys, or with the registry's if those are newer."""
    if not text:
        raise UnreadableCiphertextError("no sealed document")
    try:
        blob = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise UnreadableCiphertextError("not base64") from None
    tenant = current_context().tenant
    keys = tenant_keys(tenant)
    try:
        return _codec().open(keys, blob)
    except UnreadableCiphertextError:
        # A rotation started after this request resolved its tenant: a document sealed
        # since then is under a key this copy does not list yet.
        fresh = _fresh_keys(tenant.id)
        if fresh is None or fresh == keys:
            raise
        return _codec().open(fresh, blob)


def _open(kind: str, entity_id: str, text: str | None) -> tuple[dict[str, Any], frozenset[str]]:
    tenant_id = current_context().tenant_id
    try:
        opened = _decrypt(text)
    except UnreadableCiphertextError as exc:
        raise _reject(kind, entity_id, f"does not decrypt with the tenant's keys ({exc})") from None
    if opened.context != encryption_context(tenant_id, kind):
        raise _reject(kind, entity_id, "encryption context differs")
    try:
        payload = json.loads(opened.plaintext)
        bound_to, document = payload["e"], payload["d"]
    except (ValueError, KeyError, TypeError):
        raise _reject(kind, entity_id, "malformed plaintext") from None
    if bound_to != entity_id or not isinstance(document, dict):
        raise _reject(kind, entity_id, "sealed for another entity")
    return document, opened.key_ids
