"""The super-admin's view of tenants: what creating, listing and editing one takes."""
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, field_validator

from chalicelib.fields import EmailStr, Model
from chalicelib.tenancy.tenant import PLAN_NAME, Tenant, TenantStatus, normalise_domain, validate_plan_name
from chalicelib.tenants.models import MAX_DOMAINS, TenantCreate


class TenantAdminCreate(TenantCreate):
    """POST /api/admin/tenants: the tenant, plus who administers it and whether to seed demo data."""

    admin_email: EmailStr
    seed_demo_data: bool = False

    def tenant_fields(self) -> TenantCreate:
        return TenantCreate.model_validate(self.model_dump(exclude={"admin_email", "seed_demo_data"}))


class TenantUpdate(Model):
    """PUT /api/admin/tenants/{id}: every field optional; the tenant's version comes in If-Match.

    ``inactive`` is not a status one can set here: that is DELETE (soft delete).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["active", "suspended"] | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    plan: str | None = None
    domains: list[str] | None = Field(default=None, max_length=MAX_DOMAINS)

    @field_validator("plan")
    @classmethod
    def _plan(cls, value: str | None) -> str | None:
        return None if value is None else validate_plan_name(value)

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        domains = [normalise_domain(d) for d in value]
        if len(set(domains)) != len(domains):
            raise ValueError("domains must be unique")
        return domains


class TenantListQuery(Model):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=25, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=4096)
    status: TenantStatus | None = None
    plan: str | None = Field(default=None, pattern=PLAN_NAME.pattern)
    q: str | None = Field(default=None, min_length=1, max_length=100)


class TenantAdminView(Model):
    """A tenant as super-admins see it (its key ARNs stay internal)."""

    id: UUID
    slug: str
    name: str
    display_name: str
    logo_url: str | None
    primary_color: str | None
    configuration: dict[str, Any]
    status: TenantStatus
    plan: str
    domains: list[str]
    created_at: datetime
    updated_at: datetime
    version: int
    provisioning_steps: list[str]

    @classmethod
    def of(cls, tenant: Tenant) -> "TenantAdminView":
        return cls.model_validate(tenant.model_dump(exclude={"kms_key_arn", "previous_kms_key_arns"}))
