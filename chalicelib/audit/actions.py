"""The audit vocabulary: every action an audit event may name, in one module.

Actions are dotted, ``<subject>.<verb>``; GET /api/tenant/audit filters on an exact
action or on a subject with ``<subject>.*``. Where an event is written:

| action | trail(s) | written by |
|---|---|---|
| tenant.created, tenant.suspended, tenant.reactivated, tenant.deactivated | tenant + platform | tenants.service |
| tenant.updated, tenant.plan_changed | tenant + platform | tenant administration |
| tenant.provisioned | tenant + platform | tenants.provisioning (its last step: active) |
| tenant.limits_changed | tenant + platform | limits (a super-admin's per-tenant overrides) |
| plan.updated | platform | limits (a super-admin edits a plan) |
| tenant.accessed | tenant | a platform admin reading inside the tenant |
| config.updated, branding.updated, integration.updated, key.rotated | tenant | their features |
| export.requested, export.completed, export.failed, export.downloaded | tenant | exports |
| member.added, member.updated, member.joined, member.invitation_sent, member.removed | tenant | members |
| role.created, role.updated, role.deleted | tenant | roles |
| service_category.created/.updated/.deleted | tenant | network.categories |
| professional.created/.updated/.deleted | tenant | network.professionals |
| customer.created/.updated/.deleted | tenant | network.customers |
| referral.created/.updated/.deleted, referral.status_changed | tenant | network.referrals |
| audit.retention_applied | tenant | the daily retention job (count deleted) |

A referral update that moves its status is ``referral.status_changed`` (the status
change is what a reader of the trail looks for); one that edits only notes is
``referral.updated``.
"""
from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    TENANT_CREATED = "tenant.created"
    TENANT_UPDATED = "tenant.updated"
    TENANT_PLAN_CHANGED = "tenant.plan_changed"
    TENANT_SUSPENDED = "tenant.suspended"
    TENANT_REACTIVATED = "tenant.reactivated"
    TENANT_DEACTIVATED = "tenant.deactivated"
    TENANT_ACCESSED = "tenant.accessed"
    TENANT_PROVISIONED = "tenant.provisioned"
    TENANT_LIMITS_CHANGED = "tenant.limits_changed"
    PLAN_UPDATED = "plan.updated"
    CONFIG_UPDATED = "config.updated"
    BRANDING_UPDATED = "branding.updated"
    INTEGRATION_UPDATED = "integration.updated"
    KEY_ROTATED = "key.rotated"
    EXPORT_REQUESTED = "export.requested"
    EXPORT_COMPLETED = "export.completed"
    EXPORT_FAILED = "export.failed"
    EXPORT_DOWNLOADED = "export.downloaded"
    MEMBER_ADDED = "member.added"
    MEMBER_UPDATED = "member.updated"
    MEMBER_JOINED = "member.joined"
    MEMBER_INVITATION_SENT = "member.invitation_sent"
    MEMBER_REMOVED = "member.removed"
    ROLE_CREATED = "role.created"
    ROLE_UPDATED = "role.updated"
    ROLE_DELETED = "role.deleted"
    SERVICE_CATEGORY_CREATED = "service_category.created"
    SERVICE_CATEGORY_UPDATED = "service_category.updated"
    SERVICE_CATEGORY_DELETED = "service_category.deleted"
    PROFESSIONAL_CREATED = "professional.created"
    PROFESSIONAL_UPDATED = "professional.updated"
    PROFESSIONAL_DELETED = "professional.deleted"
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    CUSTOMER_DELETED = "customer.deleted"
    REFERRAL_CREATED = "referral.created"
    REFERRAL_UPDATED = "referral.updated"
    REFERRAL_STATUS_CHANGED = "referral.status_changed"
    REFERRAL_DELETED = "referral.deleted"
    AUDIT_RETENTION_APPLIED = "audit.retention_applied"


# Subjects a filter may name with ``<subject>.*``.
SUBJECTS = frozenset(action.value.split(".", 1)[0] for action in Action)
