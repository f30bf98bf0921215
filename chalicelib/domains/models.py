"""What GET /api/admin/tenants/{id}/domains answers: each domain's status and its DNS records."""
from __future__ import annotations

from typing import Literal

from chalicelib.fields import Model


class DnsRecord(Model):
    """A record the tenant publishes in its own DNS."""

    name: str
    type: Literal["CNAME"]
    value: str


class DomainTarget(Model):
    """Where the domain's DNS must point once it is ready (a CNAME, or a Route 53 alias in that zone)."""

    domain_name: str
    hosted_zone_id: str


class CustomDomainView(Model):
    """``unmanaged``: the domain was mapped before the platform made domains itself (its
    resources were made by hand); remove and add it again to have them made."""

    domain: str
    status: Literal["pending_validation", "ready", "failed", "unmanaged"]
    validation_record: DnsRecord | None
    target: DomainTarget | None
    reason: str | None


class CustomDomainList(Model):
    items: list[CustomDomainView]
