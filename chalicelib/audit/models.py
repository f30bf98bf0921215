"""Request and response schemas of the audit routes."""
import re
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, field_validator, model_validator

from chalicelib.audit.actions import SUBJECTS, Action
from chalicelib.fields import Model

_TARGET = re.compile(r"^[a-z_]{1,40}(?::[A-Za-z0-9._:@-]{1,256})?$")
_ACTIONS = frozenset(a.value for a in Action)


def _utc(value: datetime | None) -> datetime | None:
    # A time without a zone is read as UTC, the only zone the API speaks.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class AuditQuery(Model):
    """GET /api/tenant/audit: newest first; every filter optional, all must match."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    limit: int = Field(default=25, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=4096)
    action: str | None = Field(default=None, max_length=64,
                               description="an action (professional.created) or a subject (professional.*)")
    actor: str | None = Field(default=None, min_length=1, max_length=256,
                              description="the acting principal's sub, or 'system'")
    target: str | None = Field(default=None, max_length=300, description="<kind> or <kind>:<id>")
    from_: datetime | None = Field(default=None, alias="from", description="at or after (ISO 8601)")
    to: datetime | None = Field(default=None, description="at or before (ISO 8601)")

    @field_validator("action")
    @classmethod
    def _action(cls, value: str | None) -> str | None:
        if value is None or value in _ACTIONS:
            return value
        if value.endswith(".*") and value[:-2] in SUBJECTS:
            return value
        raise ValueError("must be an action of the audit vocabulary, or <subject>.*")

    @field_validator("target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is not None and not _TARGET.fullmatch(value):
            raise ValueError("must be <kind> or <kind>:<id>")
        return value

    @field_validator("from_", "to")
    @classmethod
    def _zone(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    @model_validator(mode="after")
    def _order(self) -> "AuditQuery":
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise ValueError("from must not be after to")
        return self


class PlatformAuditQuery(AuditQuery):
    """GET /api/admin/audit: the platform trail, optionally of one tenant."""

    tenant: UUID | None = None


class Actor(Model):
    sub: str | None
    roles: list[str]
    platform_admin: bool
    type: Literal["user", "system"]


class AuditTarget(Model):
    kind: str
    id: str


class Change(Model):
    before: Any
    after: Any


class AuditEvent(Model):
    model_config = ConfigDict(defer_build=True)

    id: str
    at: datetime
    tenant_id: UUID | None
    action: str
    actor: Actor
    target: AuditTarget
    changes: dict[str, Change]
    details: dict[str, Any]
    request_id: str | None
    source_ip: str | None
    user_agent: str | None


class AuditPage(Model):
    model_config = ConfigDict(defer_build=True)

    items: list[AuditEvent]
    next_cursor: str | None


class Problem(Model):
    kind: Literal["altered", "inserted", "deleted", "digest_altered", "digest_missing"]
    event_id: str | None
    event_at: datetime | None
    digest_start: datetime | None
    detail: str


class VerifyReport(Model):
    model_config = ConfigDict(defer_build=True)

    valid: bool
    retention_days: int
    verified_from: datetime
    # sealed_through / unsealed_events: the response's published names, kept (they mean
    # chained through / not yet chained; renaming them would break clients).
    sealed_through: datetime | None
    digests_checked: int
    events_checked: int
    unsealed_events: int
    problem_count: int
    first_problem: Problem | None
    problems: list[Problem]
