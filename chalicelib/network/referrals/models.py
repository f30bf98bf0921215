"""Referrals: statuses and their transitions, create and update bodies, and the view."""
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field

from chalicelib.fields import PII, Body, Output
from chalicelib.http import ListQuery
from chalicelib.network.models import Slug


class ReferralStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    EXPIRED = "expired"  # pending for longer than referrals.auto_expiry_days


OPEN_REFERRAL_STATUSES = frozenset({ReferralStatus.PENDING, ReferralStatus.ACCEPTED})
REFERRAL_TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.PENDING: frozenset({ReferralStatus.ACCEPTED, ReferralStatus.DECLINED, ReferralStatus.CANCELLED}),
    ReferralStatus.ACCEPTED: frozenset({ReferralStatus.COMPLETED, ReferralStatus.CANCELLED}),
    ReferralStatus.DECLINED: frozenset(),
    ReferralStatus.CANCELLED: frozenset(),
    ReferralStatus.COMPLETED: frozenset(),
    ReferralStatus.EXPIRED: frozenset(),
}


class ReferralCreate(Body):
    from_professional_id: UUID
    to_professional_id: UUID
    customer_id: UUID
    service_category: Slug
    notes: str | None = Field(default=None, max_length=2000, json_schema_extra=PII)


class ReferralUpdate(Body):
    status: ReferralStatus | None = None
    notes: str | None = Field(default=None, max_length=2000, json_schema_extra=PII)
    version: int | None = Field(default=None, ge=1)


class Referral(Output):
    id: UUID
    from_professional_id: UUID
    to_professional_id: UUID
    customer_id: UUID
    service_category: str
    notes: str | None = Field(json_schema_extra=PII)
    status: ReferralStatus


class ReferralQuery(ListQuery):
    """GET /api/referrals: a page, optionally by status, professional and direction."""

    status: ReferralStatus | None = None
    professional_id: UUID | None = None
    direction: Literal["sent", "received"] | None = None
