"""Every DynamoDB key string is built here and nowhere else.

Registry (platform-owned) keys name platform things. Data keys always begin with the
tenant prefix ``T#<tenant uuid>#``: the guard and the IAM ``dynamodb:LeadingKeys``
condition both rely on that prefix, so no other module may spell a key.
"""
from __future__ import annotations

from uuid import UUID

TENANT_SK = "TENANT"
RESERVATION_SK = "RESERVATION"
TENANTS_INDEX_PK = "TENANTS"


def tenant_pk(tenant_id: UUID) -> str:
    return f"TENANT#{tenant_id}"


def slug_reservation_pk(slug: str) -> str:
    return f"SLUG#{slug}"


def domain_reservation_pk(domain: str) -> str:
    return f"DOMAIN#{domain}"


def tenants_index_sk(created_at_iso: str, tenant_id: UUID) -> str:
    return f"{created_at_iso}#{tenant_id}"


def tenant_prefix(tenant_id: UUID) -> str:
    """The prefix every data-table partition key of this tenant starts with."""
    return f"T#{tenant_id}#"
