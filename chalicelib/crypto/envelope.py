"""The AWS Encryption SDK behind ``pii``: keyrings per tenant key set, cached data keys.

Imported on first seal or unseal, never at cold start (the SDK costs ~0.25 s to import).

Choices, each forced by a fact:

* Commitment policy ``REQUIRE_ENCRYPT_REQUIRE_DECRYPT``: a ciphertext opens to exactly
  one plaintext, and a message made without key commitment is refused.
* Algorithm ``AES_256_GCM_HKDF_SHA512_COMMIT_KEY`` (committing, unsigned). The default
  adds an ECDSA P-384 signature per message (about 1 ms to sign, more to verify); it
  protects against a party that may decrypt but not encrypt, and here the same service,
  with the same key permissions, does both.
* ``StrictAwsKmsMasterKeyProvider`` with explicit key ids (never discovery), on the
  bound tenant's session (``tenancy/clients.py``): its KMS calls are signed with the
  tenant's role credentials, which in AWS may use only keys tagged with its tenant id,
  and they go out on the tenant's one pooled KMS client (:class:`_StrictProvider`
  hands the SDK that client instead of letting it build one per provider). Encryption
  uses only the current key; decryption accepts the current and the previous keys of a
  rotation in progress. Keyrings are kept per (tenant, key set).
* A ``CachingCryptoMaterialsManager`` per key set, all on one bounded local cache. The
  SDK partitions that cache by encryption context, which ``pii`` keeps coarse (tenant +
  kind), so one data key serves up to ``MAX_MESSAGES_ENCRYPTED`` messages.
"""
from __future__ import annotations

import contextvars
import logging
import threading
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aws_encryption_sdk
from aws_encryption_sdk import CachingCryptoMaterialsManager, CommitmentPolicy, StrictAwsKmsMasterKeyProvider
from aws_encryption_sdk.caches.local import LocalCryptoMaterialsCache
from aws_encryption_sdk.exceptions import DecryptKeyError
from aws_encryption_sdk.identifiers import Algorithm
from aws_encryption_sdk.key_providers.kms import KMSMasterKey

from chalicelib import caches
from chalicelib.caches import TtlCache
from chalicelib.crypto.codec import Opened, TenantKeys
from chalicelib.crypto.errors import KeyServiceUnavailableError, UnreadableCiphertextError, is_transient
from chalicelib.errors import InternalError
from chalicelib.tenancy import clients

ALGORITHM = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY

# Security thresholds of the data-key cache (the figures the issue asks to be explicit):
# - a data key encrypts at most 1,000 messages: KMS is called about once per thousand
#   writes of one tenant and kind, while a leaked data key exposes at most that many;
MAX_MESSAGES_ENCRYPTED = 1000
# - and lives at most 5 minutes, so a disabled key or revoked grant stops all use within
#   that time, and a quiet tenant does not keep key material in memory for long;
MAX_AGE_SECONDS = 300.0
# - and encrypts at most 64 MiB (a sealed document is a few KB; this only bounds abuse).
MAX_BYTES_ENCRYPTED = 64 * 1024 * 1024
# Entries across all tenants of a warm container: one per (tenant, kind) for encryption,
# one per data key seen for decryption. LRU beyond that.
CACHE_CAPACITY = 2000
# Keyrings (provider + two managers + a KMS client) kept per container: the default bound
# of ``CACHE_SIZE_KEYRINGS`` (``caches``); the materials cache's is ``CACHE_SIZE_CRYPTO_MATERIALS``.
MAX_KEYRINGS = 1024

# The SDK logs a full traceback for every failed decrypt, even when the caller handles
# it; ``pii`` reports those as security events instead.
logging.getLogger("aws_encryption_sdk").setLevel(logging.CRITICAL)


class _KmsKey(KMSMasterKey):  # type: ignore[misc]
    """A KMS master key whose transient failures are not mistaken for a wrong key.

    On decrypt the SDK turns every KMS error into ``DecryptKeyError``; its providers then
    try the next key and end with "unable to decrypt", the cause dropped. A throttled KMS
    would read as tampered data (a 500 and a false security event) instead of a 503.
    """

    def _decrypt_data_key(self, encrypted_data_key: Any, algorithm: Any, encryption_context: Any = None) -> Any:
        try:
            return super()._decrypt_data_key(encrypted_data_key, algorithm, encryption_context)
        except DecryptKeyError as exc:
            if is_transient(exc):
                raise KeyServiceUnavailableError() from exc  # not an error the providers swallow
            raise


# The tenant whose keyring is being built (set only inside EnvelopeCodec._keyring).
_building_for: contextvars.ContextVar[clients.TenantClients | None] = contextvars.ContextVar(
    "keyring_tenant", default=None)


class _StrictProvider(StrictAwsKmsMasterKeyProvider):  # type: ignore[misc]
    """Uses the tenant's pooled KMS client instead of building its own.

    The SDK asks for a regional client while it builds the provider (one per key's
    region); it would make one from a session (signed with the process's credentials)
    and wrap its methods once per provider. The tenant's pooled client is handed over
    instead, unwrapped, so it is never dropped from the pool.
    """

    master_key_class = _KmsKey

    def add_regional_client(self, region_name: str) -> None:
        tenant = _building_for.get()
        if tenant is None or region_name != tenant.region:
            # Never fall back to the SDK's own client: it would not be the tenant's.
            raise InternalError("tenant keys are used only in the platform's region")
        self._regional_clients.setdefault(region_name, tenant.kms)


@dataclass(frozen=True)
class _Keyring:
    encrypt: CachingCryptoMaterialsManager
    decrypt: CachingCryptoMaterialsManager


class EnvelopeCodec:
    """Seal and open bytes under a tenant's KMS keys with the Encryption SDK."""

    def __init__(self) -> None:
        self._client = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
        self._cache = LocalCryptoMaterialsCache(caches.configured_size("crypto_materials", CACHE_CAPACITY))
        self._keyrings: TtlCache[tuple[UUID, TenantKeys], _Keyring] = TtlCache(MAX_KEYRINGS, name="keyrings")

    def _keyring(self, keys: TenantKeys) -> _Keyring:
        tenant = clients.for_current_tenant()  # no tenant bound: NoTenantBoundError
        slot = (tenant.tenant_id, keys)
        hit, found = self._keyrings.get(slot)
        if hit and found is not None:
            return found
        token = _building_for.set(tenant)
        try:
            # The session is only the SDK's required default; every client it uses is the tenant's.
            provider = _StrictProvider(key_ids=list(keys.accepted), botocore_session=clients.pool().session)
        finally:
            _building_for.reset(token)
        limits: dict[str, Any] = {"cache": self._cache, "max_age": MAX_AGE_SECONDS,
                                  "max_messages_encrypted": MAX_MESSAGES_ENCRYPTED,
                                  "max_bytes_encrypted": MAX_BYTES_ENCRYPTED}
        keyring = _Keyring(
            # The current key alone (one KMS client shared with the decrypt side): a
            # provider's every key wraps each new data key, and an old key must not.
            encrypt=CachingCryptoMaterialsManager(master_key_provider=provider.master_key(keys.current), **limits),
            decrypt=CachingCryptoMaterialsManager(master_key_provider=provider, **limits),
        )
        self._keyrings.put(slot, keyring)
        return keyring

    def seal(self, keys: TenantKeys, context: dict[str, str], plaintext: bytes) -> bytes:
        keyring = self._keyring(keys)  # outside the try: no tenant bound is a programming error
        try:
            ciphertext, _ = self._client.encrypt(source=plaintext, encryption_context=context, algorithm=ALGORITHM,
                                                 materials_manager=keyring.encrypt)
        except Exception as exc:
            if is_transient(exc):
                raise KeyServiceUnavailableError() from exc
            raise
        return bytes(ciphertext)

    def open(self, keys: TenantKeys, ciphertext: bytes) -> Opened:
        keyring = self._keyring(keys)
        try:
            plaintext, header = self._client.decrypt(source=ciphertext, materials_manager=keyring.decrypt)
        except KeyServiceUnavailableError:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise KeyServiceUnavailableError() from exc
            # Whatever else fails (no key of ours, a bad tag, a malformed header, the
            # SDK's or cryptography's own errors), the message is not one we can trust.
            raise UnreadableCiphertextError(type(exc).__name__) from exc
        if header.algorithm != ALGORITHM:
            raise UnreadableCiphertextError("unexpected algorithm")
        key_ids = frozenset(edk.key_provider.key_info.decode() for edk in header.encrypted_data_keys)
        return Opened(bytes(plaintext), dict(header.encryption_context), key_ids)


_codec: EnvelopeCodec | None = None
_codec_lock = threading.Lock()


def codec() -> EnvelopeCodec:
    """The process's codec (one SDK client, one cache), built on first use."""
    global _codec
    with _codec_lock:
        if _codec is None:
            _codec = EnvelopeCodec()
        return _codec


def reset() -> None:
    """Forget keyrings and cached data keys (tests switch moto worlds; clients die with them)."""
    global _codec
    with _codec_lock:
        _codec = None
