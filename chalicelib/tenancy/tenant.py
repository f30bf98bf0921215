"""The tenant as the core knows it: its status, its identity rules and the stored entity.

Here, below the store, so that the registry, the tenant context and resolution can name
a ``Tenant`` without importing the tenants feature (which imports all of them).
"""
import re
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import ConfigDict, Field

from chalicelib.fields import Model

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


class Tenant(Model):
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
