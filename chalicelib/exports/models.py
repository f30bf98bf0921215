"""Request and response schemas of data exports, and the worker's checkpoint.

An export's public view never carries the object key, the upload id or the recipient's
address: the object is reached only through the download route, which re-checks the
caller.
"""
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import ConfigDict, Field, field_validator

from chalicelib.fields import EmailStr, Model


class ExportFormat(StrEnum):
    JSON = "json"  # one gzip'd NDJSON file: a line {"entity": ..., "record": {...}} per item
    CSV = "csv"  # a zip with one CSV per entity, header row first


class Entity(StrEnum):
    PROFESSIONALS = "professionals"
    CUSTOMERS = "customers"
    REFERRALS = "referrals"
    SERVICE_CATEGORIES = "service_categories"
    AUDIT = "audit"


DEFAULT_ENTITIES = (Entity.PROFESSIONALS, Entity.CUSTOMERS, Entity.REFERRALS, Entity.SERVICE_CATEGORIES)


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"


ACTIVE_STATUSES = frozenset({ExportStatus.QUEUED, ExportStatus.RUNNING})


class ExportCreate(Model):
    """POST /api/tenant/exports. The link goes to ``notify_email``, else to the token's email claim."""

    model_config = ConfigDict(extra="forbid")

    # None: the tenant's ``exports.default_format``.
    format: ExportFormat | None = None
    include: list[Entity] = Field(default_factory=lambda: list(DEFAULT_ENTITIES), min_length=1, max_length=5)
    notify_email: EmailStr | None = Field(default=None, max_length=254)

    @field_validator("include")
    @classmethod
    def _distinct(cls, value: list[Entity]) -> list[Entity]:
        if len(set(value)) != len(value):
            raise ValueError("each entity at most once")
        return value


class Export(Model):
    """An export as the API shows it."""

    model_config = ConfigDict(defer_build=True)

    id: UUID
    status: ExportStatus
    format: ExportFormat
    include: list[Entity]
    requested_by: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    size_bytes: int | None = None
    sha256: str | None = None
    error: str | None = None


class ExportPage(Model):
    items: list[Export]
    next_cursor: str | None


class Part(Model):
    model_config = ConfigDict(extra="forbid")

    number: int
    etag: str


class Progress(Model):
    """Where the worker stopped, stored on the export record at every checkpoint.

    ``entity``/``cursor``: the entity being read (index into ``include``) and the cursor
    after the last page written (the last key read, opaque and tenant-bound). ``encoder``:
    the writer's serialisable state (CRC, sizes, zip entries). ``pending_key``: bytes
    written after the last uploaded part, parked in S3 (a part must reach 5 MiB first).
    ``resumed``: a checkpoint happened, so no single process saw every byte and the
    SHA-256 is computed by reading the object back.
    """

    model_config = ConfigDict(extra="forbid")

    upload_id: str | None = None
    object_key: str | None = None
    kms_key: str | None = None  # the tenant's key when the export started
    parts: list[Part] = Field(default_factory=list)
    entity: int = 0
    cursor: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    encoder: dict[str, object] = Field(default_factory=dict)
    pending_key: str | None = None
    resumed: bool = False
