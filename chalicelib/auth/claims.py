"""Claim mapping: what an identity provider's token says, in the names this app reads.

Per stage (settings): the claim that names the tenant (``tenant_id``,
``custom:tenant_id``, ``https://example.com/tenant_id``), the claim that lists roles or
groups (``roles``, ``cognito:groups``, ``groups``), the role/group that marks a
platform admin, and how the audience is proved: ``aud`` (ID tokens; JWT_AUDIENCE), or
for Cognito access tokens, which carry no ``aud``, ``token_use: access`` with a
``client_id`` the stage lists (JWT_ACCESS_TOKEN_CLIENT_IDS). The defaults are the
development key's claims.
"""
from __future__ import annotations

from typing import Any

import jwt

from chalicelib.auth.permissions import Role
from chalicelib.settings import Settings

_ABSENT = object()


def check_audience(payload: dict[str, Any], settings: Settings) -> None:
    """``aud`` must be exactly our audience (a string: no list, no prefix); a token with no
    ``aud`` passes only as a Cognito access token of a listed client."""
    if "aud" in payload:
        audience = payload["aud"]
        if not isinstance(audience, str) or audience != settings.jwt_audience:
            raise jwt.InvalidAudienceError("audience is not ours")
        return
    client_id = payload.get("client_id")
    if (settings.jwt_access_token_client_ids and payload.get("token_use") == "access"
            and isinstance(client_id, str) and client_id in settings.jwt_access_token_client_ids):
        return
    raise jwt.MissingRequiredClaimError("aud")


def mapped_claims(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The payload's claims under the names ``tokens._Claims`` validates."""
    roles = payload.get(settings.jwt_roles_claim, _ABSENT)
    if roles is _ABSENT or (roles is None and not settings.jwt_roles_claim_required):
        if settings.jwt_roles_claim_required:
            raise jwt.MissingRequiredClaimError(settings.jwt_roles_claim)
        roles = []
    return {
        "sub": payload.get("sub"), "iss": payload.get("iss"), "roles": roles,
        "tenant_id": payload.get(settings.jwt_tenant_claim),
        "email": payload.get("email"), "email_verified": payload.get("email_verified"),
        "auth_time": payload.get("auth_time"), "iat": payload.get("iat"),
    }


def principal_roles(names: list[str], settings: Settings) -> frozenset[str]:
    """The token's roles, with ``platform_admin`` standing for the configured admin group.

    A group literally named ``platform_admin`` means nothing when the stage names another
    admin group: only the configured one makes a platform admin.
    """
    admin = Role.PLATFORM_ADMIN.value
    roles = {name for name in names if name != admin}
    if settings.jwt_platform_admin_role in names:
        roles.add(admin)
    return frozenset(roles)
