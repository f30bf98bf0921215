"""One pooled set of AWS clients per tenant, signed with the tenant's scoped credentials.

This is the per-tenant connection pooling of REQ-MT-B012 and the third isolation layer
of REQ-MT-B002: every tenant-bound data access (the data table's items, the tenant's
S3 prefix, the tenant's KMS keys) goes out on a client of the tenant it belongs to.

Per tenant, :class:`TenantClients` holds the tenant's DynamoDB, KMS and S3 clients,
each signing with a :class:`RoleCredentials`: a botocore ``Credentials`` that answers
each ``get_frozen_credentials()`` (botocore's signer calls it for every request) from
the :class:`~chalicelib.tenancy.credentials.TenantCredentialCache`. The clients are
built once per tenant and keep their connection pools across credential refreshes;
only the keys under them change. A bounded LRU (``MAX_TENANT_CLIENT_SETS``) keeps the
sets of a warm container's recent tenants.

All tenants' clients are built from ONE botocore session of the pool (from
``aws.new_botocore_session``, so the guard and every other hook run): a new session
registers ~130 handlers and costs several times a client (bench_tenant_credentials).
botocore takes a client's credentials from its session when it builds the client, so
each client's request signer is then given its tenant's credentials
(``client._request_signer._credentials``, the attribute pynamodb itself inspects).

``TENANT_CREDENTIALS=assume_role`` (the default, and what tests and the local run use,
through moto's STS) assumes ``TENANT_DATA_ROLE_ARN`` with the session tag
``tenant_id=<uuid>``. ``shared`` (local stage only, for comparison) keeps the per-tenant
clients but signs them with the process's own credentials.

Platform access (registry table, platform key, queues, key management, tenant
resolution) stays on ``aws.client``: the Lambda's own credentials.
"""
from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from uuid import UUID

import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials, ReadOnlyCredentials

from chalicelib import aws
from chalicelib.settings import get_settings
from chalicelib.tenancy.context import current_tenant_id
from chalicelib.tenancy.credentials import SingleFlightLRU, TenantCredentialCache

MAX_TENANT_CLIENT_SETS = 1024  # default of CACHE_SIZE_TENANT_CLIENTS
METHOD = "tenant-assume-role"

# As aws.py's clients. DynamoDB: pynamodb's own choice, no client-side parameter
# validation (it builds the requests itself; validation costs time on every call).
_CONFIG = aws.CLIENT_CONFIG
_DYNAMODB_CONFIG = _CONFIG.merge(Config(parameter_validation=False))
# Presigned URLs and POSTs need SigV4 ("s3v4"): S3 refuses SigV2 in newer regions.
_PRESIGN_CONFIG = _CONFIG.merge(Config(signature_version="s3v4"))


class RoleCredentials(Credentials):  # type: ignore[misc]
    """The tenant's current role credentials, looked up at every signature.

    botocore's signer asks ``get_frozen_credentials()`` per request; the answer comes
    from the cache, which refreshes (one AssumeRole) shortly before expiry, so a
    long-lived client never signs with expired keys.
    """

    def __init__(self, cache: TenantCredentialCache, tenant_id: UUID) -> None:
        # botocore's Credentials.__init__ stores static keys; these are never static.
        self._cache = cache
        self.tenant_id = tenant_id
        self.method = METHOD

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        current = self._cache.get(self.tenant_id)
        return ReadOnlyCredentials(current.access_key, current.secret_key, current.token)

    @property
    def access_key(self) -> str:  # type: ignore[override]
        return str(self.get_frozen_credentials().access_key)

    @property
    def secret_key(self) -> str:  # type: ignore[override]
        return str(self.get_frozen_credentials().secret_key)

    @property
    def token(self) -> str:  # type: ignore[override]
        return str(self.get_frozen_credentials().token)


class TenantClients:
    """The clients of one tenant: DynamoDB at once, KMS and S3 on first use, then reused."""

    def __init__(self, tenant_id: UUID, region: str, cache: TenantCredentialCache | None,
                 session: botocore.session.Session, session_lock: threading.Lock | None = None) -> None:
        self.tenant_id = tenant_id
        self.region = region
        self.credentials = RoleCredentials(cache, tenant_id) if cache is not None else None
        self._session = session
        self._session_lock = session_lock or threading.Lock()
        self._cache = cache
        self._lock = threading.Lock()
        self.dynamodb: Any = self._client("dynamodb", _DYNAMODB_CONFIG)
        self._kms: Any = None
        self._s3_presigner: Any = None

    def _client(self, service: str, config: Config) -> Any:
        # A botocore session is not thread-safe; clients built from it are.
        with self._session_lock:
            client = self._session.create_client(service, region_name=self.region, config=config)
        if self.credentials is not None:
            client._request_signer._credentials = self.credentials
        return client

    @property
    def kms(self) -> Any:
        """The tenant's KMS client (the Encryption SDK uses this one, see crypto/envelope.py)."""
        with self._lock:
            if self._kms is None:
                self._kms = self._client("kms", _CONFIG)
            return self._kms

    @property
    def s3(self) -> Any:
        """The tenant's S3 client: its role reaches only objects under its own prefix."""
        return self.s3_presigner(timedelta(0))

    def s3_presigner(self, valid_for: timedelta) -> Any:
        """The tenant's SigV4 S3 client, its credentials valid at least ``valid_for`` more.

        A presigned URL or POST works only while the credentials that signed it do.
        """
        if self._cache is not None:
            self._cache.get(self.tenant_id, at_least=valid_for)
        with self._lock:
            if self._s3_presigner is None:
                self._s3_presigner = self._client("s3", _PRESIGN_CONFIG)
            return self._s3_presigner


class TenantClientPool:
    """Client sets per tenant (bounded LRU; one set built per tenant, however many ask)."""

    def __init__(self, region: str, cache: TenantCredentialCache | None,
                 max_tenants: int = MAX_TENANT_CLIENT_SETS) -> None:
        self.region = region
        self.credentials = cache
        self.session = aws.new_botocore_session()
        self._session_lock = threading.Lock()
        self._sets: SingleFlightLRU[UUID, TenantClients] = SingleFlightLRU(max_tenants, "tenant_clients")

    def for_tenant(self, tenant_id: UUID) -> TenantClients:
        return self._sets.get(tenant_id, lambda: TenantClients(tenant_id, self.region, self.credentials,
                                                               self.session, self._session_lock))

    def pooled_tenants(self) -> list[UUID]:
        return self._sets.keys()


_pool: TenantClientPool | None = None
_pool_lock = threading.Lock()


def _build_pool() -> TenantClientPool:
    settings = get_settings()
    cache = None
    if settings.tenant_credentials == "assume_role":
        assert settings.tenant_data_role_arn is not None  # settings refuse assume_role without it
        cache = TenantCredentialCache(lambda: aws.client("sts", settings.region), settings.tenant_data_role_arn,
                                      duration_seconds=settings.tenant_credentials_seconds)
    return TenantClientPool(settings.region, cache)


def pool() -> TenantClientPool:
    """The process's pool, built from settings on first use."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _build_pool()
        return _pool


def use_pool(replacement: TenantClientPool | None) -> None:
    """Install a pool (tests inject one with a fake clock or a small bound); None forgets it."""
    global _pool
    with _pool_lock:
        _pool = replacement


def for_current_tenant() -> TenantClients:
    """The bound tenant's clients; raises ``NoTenantBoundError`` when none is bound."""
    return pool().for_tenant(current_tenant_id())


def _forget_pool() -> None:
    use_pool(None)


aws.on_reset(_forget_pool)
