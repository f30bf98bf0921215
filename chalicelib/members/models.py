"""Request and response bodies of the roles and members routes."""
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from chalicelib.auth.permissions import TENANT_PERMISSIONS, Permission
from chalicelib.fields import EmailStr, Model


class RoleOut(Model):
    name: str
    permissions: list[str]
    built_in: bool
    version: int
    updated_at: str | None


class RolePut(Model):
    model_config = ConfigDict(extra="forbid")

    permissions: list[Permission] = Field(max_length=len(Permission))

    @field_validator("permissions")
    @classmethod
    def _tenant_permissions(cls, value: list[Permission]) -> list[Permission]:
        if any(p not in TENANT_PERMISSIONS for p in value):
            raise ValueError("platform permissions cannot be granted by a tenant role")
        return value


class MemberInvite(Model):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr = Field(max_length=254)
    role: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]{0,63}$")


class MemberUpdate(Model):
    model_config = ConfigDict(extra="forbid")

    role: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]{0,63}$")
    status: Literal["invited", "active", "disabled"] | None = None
    version: int | None = Field(default=None, ge=1)


class InvitationAccept(Model):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")


class Member(Model):
    id: str
    email: str
    role: str
    status: str
    # The identity-provider subject that accepted the invitation (None until then).
    subject: str | None = None
    version: int
    created_at: str
    updated_at: str
