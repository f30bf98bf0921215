"""Tenants: the entity, its validation, creation and lifecycle."""
from chalicelib.tenancy.tenant import Tenant, TenantStatus
from chalicelib.tenants.models import TenantCreate, TenantProfile

__all__ = ["Tenant", "TenantCreate", "TenantProfile", "TenantStatus"]
