"""Tenants: the entity, its validation, creation and lifecycle."""
from chalicelib.tenants.models import Tenant, TenantCreate, TenantProfile, TenantStatus

__all__ = ["Tenant", "TenantCreate", "TenantProfile", "TenantStatus"]
