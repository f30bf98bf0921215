"""Bearer JWT verification.

Algorithms come from configuration, never from the token: the token's ``alg`` only
selects among the configured ones, and the key type is fixed by that choice (HS256
uses only the configured secret; asymmetric algorithms use only JWKS keys looked up by
``kid``). ``jku``, ``x5u`` and ``jwk`` headers are never read, so no token can make us
fetch anything or supply its own key. Every failure is a 401.
"""
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
from pydantic import ConfigDict, Field, StrictStr, ValidationError, field_validator

from chalicelib.auth.claims import check_audience, mapped_claims, principal_roles
from chalicelib.auth.permissions import Role
from chalicelib.auth.principal import Principal
from chalicelib.errors import InternalError, ServiceUnavailableError, UnauthorizedError
from chalicelib.fields import Model
from chalicelib.settings import SYMMETRIC_ALGORITHMS, Settings

MAX_KID_LENGTH = 128
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _Claims(Model):
    """Claims we read, after mapping (chalicelib/auth/claims.py), type-checked strictly
    (a tenant id as a list or number is refused)."""

    model_config = ConfigDict(extra="ignore")

    sub: StrictStr = Field(min_length=1, max_length=256)
    iss: StrictStr = Field(min_length=1, max_length=512)
    roles: list[StrictStr] = Field(max_length=32)
    tenant_id: StrictStr | None = None
    # Optional: where mail for the caller goes (the export-ready link), and whether the
    # provider verified it (invitations). A malformed or non-string one is ignored rather
    # than refusing the token.
    email: Any = None
    email_verified: Any = None
    auth_time: Any = None
    iat: Any = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: Any) -> str | None:
        if isinstance(value, str) and len(value) <= 254 and _EMAIL.fullmatch(value):
            return value
        return None

    @field_validator("roles")
    @classmethod
    def _role_names(cls, value: list[str]) -> list[str]:
        if any(not r or len(r) > 128 for r in value):
            raise ValueError("invalid role name")
        return value

    @field_validator("tenant_id")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        if value is not None:
            UUID(value)
        return value

    def session_started(self) -> int:
        """``auth_time`` when the provider sends a numeric one, else ``iat``."""
        started = self.auth_time if _is_numeric_date(self.auth_time) else self.iat
        return int(started)


class _StaticJwks:
    """Keys from an inline JWKS or a file (read once per process)."""

    def __init__(self, loader: Callable[[], str]) -> None:
        self._loader = loader
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            if self._keys is None:
                try:
                    keyset = jwt.PyJWKSet.from_json(self._loader())
                except (OSError, ValueError, jwt.PyJWTError) as exc:
                    # Our configuration is broken, not the caller's token: a 500, logged.
                    raise InternalError() from exc
                self._keys = {k.key_id: k for k in keyset.keys if k.key_id}
        return self._keys.get(kid)


class _RemoteJwks:
    """Keys from an identity provider's JWKS URL, with a timeout and a refetch cooldown.

    An unknown ``kid`` triggers at most one refetch per cooldown, so a flood of tokens
    with random ``kid`` values cannot turn into a flood of requests to the provider.
    """

    def __init__(self, url: str, timeout: float, cooldown: int) -> None:
        self._client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=cooldown, timeout=timeout)
        self._cooldown = cooldown
        self._last_refresh = 0.0
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        try:
            found = self._find(kid, refresh=False)
            with self._lock:
                may_refresh = time.monotonic() - self._last_refresh > self._cooldown
                if found is None and may_refresh:
                    self._last_refresh = time.monotonic()
            if found is None and may_refresh:
                found = self._find(kid, refresh=True)
            return found
        except jwt.PyJWKClientConnectionError as exc:
            raise ServiceUnavailableError("identity provider keys are unavailable") from exc
        except jwt.PyJWKClientError:
            return None

    def _find(self, kid: str, refresh: bool) -> jwt.PyJWK | None:
        return next((k for k in self._client.get_signing_keys(refresh=refresh) if k.key_id == kid), None)


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._keys: _StaticJwks | _RemoteJwks | None = None
        if settings.jwt_jwks:
            inline = settings.jwt_jwks
            self._keys = _StaticJwks(lambda: inline)
        elif settings.jwt_jwks_file:
            path = Path(settings.jwt_jwks_file)
            self._keys = _StaticJwks(path.read_text)
        elif settings.jwt_jwks_url:
            self._keys = _RemoteJwks(
                settings.jwt_jwks_url, settings.jwks_fetch_timeout_seconds, settings.jwks_cooldown_seconds
            )

    def verify_header(self, authorization: str | None) -> Principal:
        if not authorization:
            raise UnauthorizedError("missing bearer token")
        if len(authorization.encode("utf-8", "surrogatepass")) > self._settings.max_authorization_header_bytes:
            raise UnauthorizedError("authorization header too large")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("expected a bearer token")
        return self.verify(token.strip())

    def verify(self, token: str) -> Principal:
        try:
            payload = self._decode(token)
            claims = _Claims.model_validate(mapped_claims(payload, self._settings))
        except (jwt.PyJWTError, ValidationError, ValueError, TypeError, KeyError) as exc:
            raise UnauthorizedError("invalid token") from exc
        roles = principal_roles(claims.roles, self._settings)
        is_platform = Role.PLATFORM_ADMIN.value in roles
        if is_platform and claims.tenant_id is not None:
            raise UnauthorizedError("a platform admin token must not carry a tenant claim")
        if not is_platform and claims.tenant_id is None and self._settings.jwt_tenant_claim_required:
            raise UnauthorizedError("token has no tenant claim")
        tenant_id = UUID(claims.tenant_id) if claims.tenant_id else None
        return Principal(sub=claims.sub, roles=roles, tenant_id=tenant_id, email=claims.email, issuer=claims.iss,
                         email_verified=_verified(claims.email_verified), session_started=claims.session_started())

    def _decode(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._settings.jwt_algorithms:
            raise jwt.InvalidAlgorithmError("algorithm not allowed")
        key: Any
        if algorithm in SYMMETRIC_ALGORITHMS:
            key = self._settings.jwt_hs256_secret
        else:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH or self._keys is None:
                raise jwt.InvalidKeyError("unknown key")
            jwk = self._keys.key(kid)
            if jwk is None:
                raise jwt.InvalidKeyError("unknown key")
            # A key published for one algorithm is not used with another of its type
            # (an RSA key marked RS256 does not verify a PS256 token).
            declared = jwk._jwk_data.get("alg") if hasattr(jwk, "_jwk_data") else None
            if declared is not None and declared != algorithm:
                raise jwt.InvalidAlgorithmError("key is for another algorithm")
            key = jwk.key
        leeway = self._settings.jwt_leeway_seconds
        payload: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            issuer=self._settings.jwt_issuer,
            leeway=leeway,
            # The audience is checked below: an ``aud`` for ID tokens, or a Cognito access
            # token's ``client_id`` + ``token_use`` where the stage lists its clients.
            options={"require": ["iss", "sub", "exp", "iat"], "verify_aud": False},
        )
        check_audience(payload, self._settings)
        # RFC 7519 dates are JSON numbers; pyjwt also takes numeric strings ("exp": "9999999999").
        for claim in ("exp", "nbf", "iat"):
            if claim in payload and not _is_numeric_date(payload[claim]):
                raise jwt.InvalidTokenError(f"{claim} must be a number")
        if payload["iat"] > time.time() + leeway:
            raise jwt.ImmatureSignatureError("token issued in the future")
        if payload["exp"] - payload["iat"] > self._settings.jwt_max_lifetime_seconds:
            raise jwt.InvalidTokenError("token lifetime exceeds the allowed maximum")
        return payload


def _verified(value: Any) -> bool | None:
    """``email_verified`` as sent: absent is None; only ``true`` (older Cognito pools send
    the string ``"true"``) is True, anything else False."""
    if value is None:
        return None
    return value is True or value == "true"


def _is_numeric_date(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_verifier: TokenVerifier | None = None
_verifier_settings: Settings | None = None
_verifier_lock = threading.Lock()


def get_verifier(settings: Settings) -> TokenVerifier:
    """One verifier (and so one JWKS cache) per process and settings."""
    global _verifier, _verifier_settings
    with _verifier_lock:
        if _verifier is None or _verifier_settings is not settings:
            _verifier, _verifier_settings = TokenVerifier(settings), settings
        return _verifier

