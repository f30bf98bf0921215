"""The tenant entity (REQ-MT-B001) and the validated input that creates one."""
from __future__ import annotations

import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.safe_urls import check_public_https_url

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
# Names the platform keeps for its own hosts and routes; a tenant cannot take them.
RESERVED_SLUGS = frozenset(
    {
        "www", "api", "admin", "app", "mail", "static", "platform", "assets", "cdn", "docs",
        "help", "support", "status", "auth", "login", "sso", "id", "console", "dashboard",
        "billing", "smtp", "imap", "pop", "ftp", "ns1", "ns2", "dev", "staging", "prod",
        "test", "demo-admin", "root", "system", "internal", "localhost",
    }
)
DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
COLOR_PATTERN = re.compile(r"^#[0-9A-Fa-f]{6}$")
# A plan's name; whether such a plan exists is checked against the stored plans
# (limits.plans) by the tenants service, which can read the registry.
PLAN_NAME = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
MAX_DOMAINS = 10
MAX_CONFIGURATION_BYTES = 32 * 1024


class TenantStatus(StrEnum):
    # Being provisioned (tenants/provisioning.py): resolution treats it as not found.
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    INACTIVE = "inactive"


def validate_slug(value: str) -> str:
    if not SLUG_PATTERN.fullmatch(value):
        raise ValueError("slug must be a lowercase DNS label of 3 to 63 letters, digits or hyphens")
    if "--" in value[2:4]:
        # Labels with "--" in positions 3-4 are IDNA/punycode ("xn--"); refuse look-alikes.
        raise ValueError("slug must not have hyphens in positions 3 and 4")
    if value in RESERVED_SLUGS:
        raise ValueError("slug is reserved")
    if _is_uuid(value):
        # X-Tenant-ID reads a UUID-shaped value as a tenant id, so such a slug could never
        # be named by the header (and would read as another tenant's id).
        raise ValueError("slug must not be a UUID")
    return value


def validate_plan_name(value: str) -> str:
    if not PLAN_NAME.fullmatch(value):
        raise ValueError("plan must be a plan's name (lowercase letters, digits, hyphens)")
    return value


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def normalise_domain(value: str) -> str:
    domain = value.strip().lower().rstrip(".")
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(DOMAIN_LABEL.fullmatch(p) for p in labels):
        raise ValueError("domain must be a fully qualified host name")
    if labels[-1].isdigit():
        raise ValueError("domain must be a host name, not an address")
    return domain


class Tenant(BaseModel):
    """A tenant as stored in the registry. Immutable: changes make a new object."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    slug: str
    name: str
    display_name: str
    logo_url: str | None = None
    primary_color: str | None = None
    configuration: dict[str, Any] = Field(default_factory=dict)
    status: TenantStatus
    plan: str
    domains: tuple[str, ...] = ()
    created_at: datetime
    updated_at: datetime
    version: int = 1
    # The tenant's KMS key (crypto/keys.py): every tenant has one from its creation on.
    kms_key_arn: str
    # Keys of a rotation in progress: still accepted for decryption, never for encryption.
    previous_kms_key_arns: tuple[str, ...] = ()
    # Provisioning steps done so far, in order (tenants/provisioning.py).
    provisioning_steps: tuple[str, ...] = ()


class TenantCreate(BaseModel):
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


class TenantProfile(BaseModel):
    """The public face of a tenant (GET /api/tenant)."""

    id: UUID
    slug: str
    display_name: str
    logo_url: str | None
    primary_color: str | None
    status: TenantStatus

    @classmethod
    def of(cls, tenant: Tenant) -> TenantProfile:
        return cls(
            id=tenant.id,
            slug=tenant.slug,
            display_name=tenant.display_name,
            logo_url=tenant.logo_url,
            primary_color=tenant.primary_color,
            status=tenant.status,
        )
