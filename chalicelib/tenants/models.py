"""The validated input that creates a tenant, and its public profile.

The tenant entity itself (REQ-MT-B001) is ``chalicelib.tenancy.tenant``, below the store.
"""
import json
from typing import Any
from uuid import UUID

from pydantic import ConfigDict, Field, field_validator

from chalicelib.fields import Model
from chalicelib.safe_urls import check_public_https_url
from chalicelib.tenancy.tenant import (
    COLOR_PATTERN,
    MAX_CONFIGURATION_BYTES,
    MAX_DOMAINS,
    Tenant,
    TenantStatus,
    normalise_domain,
    validate_plan_name,
    validate_slug,
)


class TenantCreate(Model):
    """What a caller may say about a new tenant; everything else is the server's."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: str = Field(min_length=3, max_length=63)
    name: str = Field(min_length=1, max_length=200)
    display_name: str = Field(min_length=1, max_length=200)
    logo_url: str | None = Field(default=None, max_length=2048)
    primary_color: str | None = None
    configuration: dict[str, Any] = Field(default_factory=dict)
    plan: str = "free"
    domains: list[str] = Field(default_factory=list, max_length=MAX_DOMAINS)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        return validate_slug(value)

    @field_validator("logo_url")
    @classmethod
    def _logo_url(cls, value: str | None) -> str | None:
        return None if value is None else check_public_https_url(value)

    @field_validator("primary_color")
    @classmethod
    def _color(cls, value: str | None) -> str | None:
        if value is not None and not COLOR_PATTERN.fullmatch(value):
            raise ValueError("colour must be #RRGGBB")
        return value.upper() if value else value

    @field_validator("plan")
    @classmethod
    def _plan(cls, value: str) -> str:
        return validate_plan_name(value)

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        domains = [normalise_domain(d) for d in value]
        if len(set(domains)) != len(domains):
            raise ValueError("domains must be unique")
        return domains

    @field_validator("configuration")
    @classmethod
    def _configuration_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > MAX_CONFIGURATION_BYTES:
            raise ValueError("configuration is too large")
        return value


class TenantProfile(Model):
    """The public face of a tenant (GET /api/tenant)."""

    id: UUID
    slug: str
    display_name: str
    logo_url: str | None
    primary_color: str | None
    status: TenantStatus

    @classmethod
    def of(cls, tenant: Tenant) -> "TenantProfile":
        return cls(
            id=tenant.id,
            slug=tenant.slug,
            display_name=tenant.display_name,
            logo_url=tenant.logo_url,
            primary_color=tenant.primary_color,
            status=tenant.status,
        )
