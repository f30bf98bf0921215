"""One frozen Settings object, built from the environment, failing fast.

Chalice puts a stage's ``environment_variables`` from ``.chalice/config.json`` into
the process environment (in Lambda, in ``chalice local`` and in ``chalice.test``), so
the environment is the single source. Nothing here has a default for a name, a key
or a secret: a missing value is a startup error, not a silently empty string.
"""
import functools
import os
from typing import Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from chalicelib.fields import Model

Stage = Literal["local", "dev", "prod"]
TenantCredentialsMode = Literal["assume_role", "shared"]
# How per-tenant API rate limits are enforced (chalicelib/ratelimit): by API Gateway usage
# plans with one API key per tenant (AWS), or by the in-process limiter (local, tests).
RateLimitMode = Literal["in_process", "dynamodb", "usage_plans"]
RATE_LIMIT_MODES: tuple[RateLimitMode, ...] = ("in_process", "dynamodb", "usage_plans")

# Asymmetric algorithms are accepted from a JWKS; HS256 only on stages that allow it.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"})
SYMMETRIC_ALGORITHMS = frozenset({"HS256"})
STAGES_ALLOWING_HS256 = frozenset({"local"})
# The key that signs pagination cursors (chalicelib/cursors.py) when CURSOR_SIGNING_KEY is
# unset, on the local stage only: every developer's machine and test run shares it, so it
# protects nothing, and any deployed stage must be given its own (infra generates one).
LOCAL_CURSOR_SIGNING_KEY = "local-stage-only-cursor-signing-key-not-a-secret"
MIN_SECRET_BYTES = 32


# The exports worker's queue, and its dead-letter queue (the bootstrap's and infra's
# ``-dlq`` suffix). A literal, like the key-rotation queue: one per account.
EXPORTS_QUEUE = "tenant-platform-exports"
EXPORTS_DLQ = EXPORTS_QUEUE + "-dlq"
# The assets bucket's S3 event notifications (limits.storage; jobs/usage.py declares its
# consumer from here, so that declaration does not import the storage accounting).
STORAGE_EVENTS_QUEUE = "tenant-platform-storage-events"


class SettingsError(RuntimeError):
    """The environment does not describe a runnable configuration."""


class Settings(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: Stage
    app_name: str = Field(min_length=1)
    region: str = Field(min_length=1)
    registry_table: str = Field(min_length=3)
    data_table: str = Field(min_length=3)
    exports_bucket: str = Field(min_length=3)
    # Tenant branding images (logos, favicons), uploaded by presigned POST under tenants/<uuid>/.
    assets_bucket: str = Field(min_length=3)
    exports_queue: str = Field(min_length=1)
    platform_domain: str = Field(min_length=1)
    # The From address of mail the platform itself sends (tenant welcome mail); SES only
    # sends from a verified identity (the local bootstrap verifies it in moto).
    platform_sender_email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # The platform's default text sender (SNS): an alphanumeric sender id where carriers
    # accept one; unset, SNS picks the account's default origination.
    platform_sms_sender_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,11}$")
    # Connect, read and send timeout of a tenant's SMTP server or provider API: well inside
    # a Lambda's and API Gateway's 29 s, so a dead server fails the call, not the function.
    integration_timeout_seconds: float = Field(default=10.0, gt=0, le=25)
    # The disaster-recovery region (issue 21): tenant keys are multi-Region keys with a
    # replica there, so a table copied there decrypts. Unset: single-Region keys.
    dr_region: str | None = Field(default=None, min_length=1)

    jwt_issuer: str = Field(min_length=1)
    jwt_audience: str = Field(min_length=1)
    jwt_algorithms: tuple[str, ...]
    jwt_jwks: str | None = None
    jwt_jwks_file: str | None = None
    jwt_jwks_url: str | None = None
    jwt_hs256_secret: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # HMAC-SHA256 key of pagination cursors: a cursor carries a DynamoDB key, and only the
    # ones this deployment issued may resume a listing. Changing it invalidates cursors
    # in flight (a client starts its listing again; an export checkpoint fails and retries).
    cursor_signing_key: str = Field(min_length=MIN_SECRET_BYTES, repr=False)
    # Longest accepted exp - iat: an identity provider's access tokens live an hour; a
    # token minted for years is a stolen-forever token.
    jwt_max_lifetime_seconds: int = Field(default=7 * 86400, ge=60)
    jwks_fetch_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    jwks_cooldown_seconds: int = Field(default=300, ge=1)
    # Claim mapping (chalicelib/auth/claims.py): which claims name the tenant and the
    # roles or groups, and which role/group marks a platform admin. The defaults are the
    # development key's claims; Cognito puts the tenant in ``custom:tenant_id`` (ID tokens
    # only) and groups in ``cognito:groups``; Auth0 uses namespaced URL claims.
    jwt_tenant_claim: str = Field(default="tenant_id", min_length=1, max_length=256)
    jwt_roles_claim: str = Field(default="roles", min_length=1, max_length=256)
    jwt_platform_admin_role: str = Field(default="platform_admin", min_length=1, max_length=128)
    # Required: a tenant token without it is 401 (today's tokens). Cognito access tokens
    # carry no custom attribute, and a user in no group has no groups claim: a stage
    # trusting them says False and names the tenant by host or X-Tenant-ID.
    jwt_tenant_claim_required: bool = True
    jwt_roles_claim_required: bool = True
    # Cognito access tokens carry no ``aud``: ``client_id`` (one of these) and
    # ``token_use: access`` stand for it. Empty: every token needs ``aud`` == JWT_AUDIENCE.
    jwt_access_token_client_ids: tuple[str, ...] = ()
    # Inside a tenant the member record is the authority (chalicelib/members/authority.py):
    # a disable or role change reaches every container within this many seconds.
    membership_cache_ttl_seconds: float = Field(default=5.0, ge=0, le=60)
    membership_cache_size: int = Field(default=10_000, ge=1, le=1_000_000)
    # How long an invitation link stays valid (re-inviting issues a new one).
    invitation_ttl_hours: int = Field(default=7 * 24, ge=1, le=90 * 24)

    max_authorization_header_bytes: int = Field(default=8192, ge=512)
    tenant_cache_ttl_seconds: float = Field(default=5.0, ge=0, le=60)
    # How long after a key rotation switches keys a process may still hold the tenant as
    # it was (resolution cache TTL + the longest request): the rotation's last sweep for
    # old-key ciphertext starts only after it, so nothing written meanwhile is missed.
    key_rotation_grace_seconds: float = Field(default=90.0, ge=0, le=900)
    # Exports (chalicelib/exports): days an export's object and download link live (the
    # bucket's lifecycle rule on tenants/*/exports/ must say the same), the size of each
    # multipart part (S3 refuses parts under 5 MiB but the last), items per DynamoDB page,
    # and how long before the Lambda deadline the worker stops to checkpoint.
    export_retention_days: int = Field(default=7, ge=1, le=365)
    export_part_size_bytes: int = Field(default=8 * 1024 * 1024, ge=5 * 1024 * 1024, le=512 * 1024 * 1024)
    export_page_size: int = Field(default=1000, ge=1, le=1000)
    export_checkpoint_margin_seconds: float = Field(default=15.0, ge=1, le=600)
    # The origin the emailed download link names (e.g. http://127.0.0.1:8000 locally);
    # unset, it is https://<slug>.<PLATFORM_DOMAIN>.
    public_base_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+$")
    log_level: str = "INFO"
    rate_limit_mode: RateLimitMode = "in_process"
    # Tenants the in-process limiter tracks at once (least recently seen evicted first).
    rate_limit_max_tenants: int = Field(default=10_000, ge=1, le=1_000_000)

    # Tenant-bound data access (data-table items, the tenant's S3 prefix and KMS keys)
    # signs with credentials of this role, assumed with the session tag tenant_id=<uuid>
    # (tenancy/clients.py). "shared" signs with the process's own credentials: local
    # stage only, for comparisons; AWS stages must scope every tenant's access.
    tenant_credentials: TenantCredentialsMode = "assume_role"
    tenant_data_role_arn: str | None = Field(default=None, pattern=r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
    # STS allows 900 s and up; the functions' own role sessions assume the tenant role,
    # and role chaining caps such a session at 1 h whatever the role's maximum says.
    tenant_credentials_seconds: int = Field(default=3600, ge=900, le=3600)

    @model_validator(mode="before")
    @classmethod
    def _local_cursor_key(cls, raw: object) -> object:
        if isinstance(raw, dict) and raw.get("stage") == "local" and not raw.get("cursor_signing_key"):
            return {**raw, "cursor_signing_key": LOCAL_CURSOR_SIGNING_KEY}
        return raw

    @field_validator("platform_domain")
    @classmethod
    def _lower_domain(cls, value: str) -> str:
        return value.strip().lower().rstrip(".")

    @field_validator("jwt_algorithms")
    @classmethod
    def _known_algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - ASYMMETRIC_ALGORITHMS - SYMMETRIC_ALGORITHMS
        if not value or unknown:
            raise ValueError(f"unsupported JWT algorithms: {sorted(unknown) or 'none given'}")
        return value

    @model_validator(mode="after")
    def _key_sources_match_algorithms(self) -> "Settings":
        wants_hs = bool(set(self.jwt_algorithms) & SYMMETRIC_ALGORITHMS)
        wants_asym = bool(set(self.jwt_algorithms) & ASYMMETRIC_ALGORITHMS)
        if wants_hs and self.stage not in STAGES_ALLOWING_HS256:
            raise ValueError(f"HS256 is not allowed on stage {self.stage!r}")
        if self.jwt_hs256_secret and len(self.jwt_hs256_secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError("JWT_HS256_SECRET must be at least 32 bytes")
        if wants_hs and not self.jwt_hs256_secret:
            raise ValueError("HS256 configured without JWT_HS256_SECRET")
        if self.jwt_hs256_secret and not wants_hs:
            raise ValueError("JWT_HS256_SECRET set but HS256 is not an allowed algorithm")
        sources = [s for s in (self.jwt_jwks, self.jwt_jwks_file, self.jwt_jwks_url) if s]
        if wants_asym and len(sources) != 1:
            raise ValueError("exactly one of JWT_JWKS, JWT_JWKS_FILE, JWT_JWKS_URL is required")
        if self.jwt_jwks_url and not self.jwt_jwks_url.startswith("https://") and self.stage != "local":
            raise ValueError("JWT_JWKS_URL must be https")
        if self.stage != "local" and self.cursor_signing_key == LOCAL_CURSOR_SIGNING_KEY:
            raise ValueError(f"CURSOR_SIGNING_KEY must be this stage's own secret on stage {self.stage!r}")
        if self.tenant_credentials == "assume_role" and not self.tenant_data_role_arn:
            raise ValueError("TENANT_CREDENTIALS=assume_role needs TENANT_DATA_ROLE_ARN")
        if self.tenant_credentials == "shared" and self.stage != "local":
            raise ValueError(f"TENANT_CREDENTIALS=shared is not allowed on stage {self.stage!r}")
        if self.exports_queue != EXPORTS_QUEUE:
            # app.py declares the export worker on this queue when it is imported, before
            # any settings exist (Chalice packages the app with no stage known).
            raise ValueError(f"EXPORTS_QUEUE must be {EXPORTS_QUEUE!r}, the queue app.py declares")
        if self.key_rotation_grace_seconds < self.tenant_cache_ttl_seconds:
            raise ValueError("KEY_ROTATION_GRACE_SECONDS must be at least TENANT_CACHE_TTL_SECONDS")
        return self


_ENV = {
    "stage": "STAGE",
    "app_name": "APP_NAME",
    "registry_table": "REGISTRY_TABLE",
    "data_table": "DATA_TABLE",
    "exports_bucket": "EXPORTS_BUCKET",
    "assets_bucket": "ASSETS_BUCKET",
    "exports_queue": "EXPORTS_QUEUE",
    "platform_domain": "PLATFORM_DOMAIN",
    "platform_sender_email": "PLATFORM_SENDER_EMAIL",
    "platform_sms_sender_id": "PLATFORM_SMS_SENDER_ID",
    "integration_timeout_seconds": "INTEGRATION_TIMEOUT_SECONDS",
    "dr_region": "DR_REGION",
    "jwt_issuer": "JWT_ISSUER",
    "jwt_audience": "JWT_AUDIENCE",
    "jwt_jwks": "JWT_JWKS",
    "jwt_jwks_file": "JWT_JWKS_FILE",
    "jwt_jwks_url": "JWT_JWKS_URL",
    "jwt_hs256_secret": "JWT_HS256_SECRET",
    "cursor_signing_key": "CURSOR_SIGNING_KEY",
    "jwt_leeway_seconds": "JWT_LEEWAY_SECONDS",
    "jwt_max_lifetime_seconds": "JWT_MAX_LIFETIME_SECONDS",
    "jwks_fetch_timeout_seconds": "JWKS_FETCH_TIMEOUT_SECONDS",
    "jwks_cooldown_seconds": "JWKS_COOLDOWN_SECONDS",
    "jwt_tenant_claim": "JWT_TENANT_CLAIM",
    "jwt_roles_claim": "JWT_ROLES_CLAIM",
    "jwt_platform_admin_role": "JWT_PLATFORM_ADMIN_ROLE",
    "jwt_tenant_claim_required": "JWT_TENANT_CLAIM_REQUIRED",
    "jwt_roles_claim_required": "JWT_ROLES_CLAIM_REQUIRED",
    "membership_cache_ttl_seconds": "MEMBERSHIP_CACHE_TTL_SECONDS",
    "membership_cache_size": "MEMBERSHIP_CACHE_SIZE",
    "invitation_ttl_hours": "INVITATION_TTL_HOURS",
    "max_authorization_header_bytes": "MAX_AUTHORIZATION_HEADER_BYTES",
    "tenant_cache_ttl_seconds": "TENANT_CACHE_TTL_SECONDS",
    "key_rotation_grace_seconds": "KEY_ROTATION_GRACE_SECONDS",
    "export_retention_days": "EXPORT_RETENTION_DAYS",
    "export_part_size_bytes": "EXPORT_PART_SIZE_BYTES",
    "export_page_size": "EXPORT_PAGE_SIZE",
    "export_checkpoint_margin_seconds": "EXPORT_CHECKPOINT_MARGIN_SECONDS",
    "public_base_url": "PUBLIC_BASE_URL",
    "log_level": "LOG_LEVEL",
    "tenant_credentials": "TENANT_CREDENTIALS",
    "tenant_data_role_arn": "TENANT_DATA_ROLE_ARN",
    "tenant_credentials_seconds": "TENANT_CREDENTIALS_SECONDS",
    "rate_limit_mode": "RATE_LIMIT_MODE",
    "rate_limit_max_tenants": "RATE_LIMIT_MAX_TENANTS",
}


# Errors name the environment variable to set, including the two read outside _ENV.
_VARIABLE_NAMES = {**_ENV, "region": "AWS_REGION", "jwt_algorithms": "JWT_ALGORITHMS",
                   "jwt_access_token_client_ids": "JWT_ACCESS_TOKEN_CLIENT_IDS"}


def load_settings(environ: dict[str, str] | os._Environ[str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {k: env[v] for k, v in _ENV.items() if env.get(v)}
    raw["region"] = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    algorithms = env.get("JWT_ALGORITHMS", "")
    raw["jwt_algorithms"] = tuple(a.strip() for a in algorithms.split(",") if a.strip())
    client_ids = env.get("JWT_ACCESS_TOKEN_CLIENT_IDS", "")
    raw["jwt_access_token_client_ids"] = tuple(c.strip() for c in client_ids.split(",") if c.strip())
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_VARIABLE_NAMES.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else 'settings'}: {e['msg']}"
            for e in exc.errors()
        )
        raise SettingsError(f"invalid configuration: {problems}") from None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once (a Lambda's environment does not change)."""
    return load_settings()


def rate_limit_mode_at_import(environ: dict[str, str] | os._Environ[str] | None = None) -> RateLimitMode:
    """``RATE_LIMIT_MODE`` alone, for the route table built when app.py is imported.

    ``chalice package`` imports app.py with the stage's environment but nothing else
    validated, and the routes' authorizer and API-key flags must be decided then (they
    go into the API's OpenAPI definition). An unknown value fails the import.
    """
    env = os.environ if environ is None else environ
    value = env.get("RATE_LIMIT_MODE") or "in_process"
    for mode in RATE_LIMIT_MODES:
        if value == mode:
            return mode
    raise SettingsError(f"invalid configuration: RATE_LIMIT_MODE: must be one of {', '.join(RATE_LIMIT_MODES)}")


def reset_settings() -> None:
    """Forget the cached settings (tests and the local runner change the environment)."""
    get_settings.cache_clear()

