"""Who is calling: built only from a verified token."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from chalicelib.auth.permissions import Role


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: frozenset[str]
    tenant_id: UUID | None
    email: str | None = None  # the token's email claim, when well-formed

    @property
    def is_platform_admin(self) -> bool:
        return Role.PLATFORM_ADMIN.value in self.roles
