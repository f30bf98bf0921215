"""Who is calling: built only from a verified token."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from chalicelib.auth.permissions import Role


@dataclass(frozen=True)
class Principal:
    sub: str
    # The token's role or group names (mapped by chalicelib/auth/claims.py). Inside a
    # tenant they only narrow what the member record grants; ``platform_admin`` is here
    # only when the identity provider marked the caller with the configured admin group.
    roles: frozenset[str]
    tenant_id: UUID | None
    email: str | None = None  # the token's email claim, when well-formed
    issuer: str = ""
    # The provider's ``email_verified``: None when it sends none.
    email_verified: bool | None = None
    # When the user signed in (``auth_time``, else ``iat``): the tenant's session limit.
    session_started: int = 0

    @property
    def is_platform_admin(self) -> bool:
        return Role.PLATFORM_ADMIN.value in self.roles
