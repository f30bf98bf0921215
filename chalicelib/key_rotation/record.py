"""The rotation record: one item in the tenant's own partition, the rotation's checkpoint.

``T#<tenant>#KEYROT`` / ``ROTATION`` holds the latest rotation: its keys, its status
(``pending`` -> ``reencrypting`` -> ``retiring`` -> ``complete``), where the current sweep
has got to, and counters. Every write is conditioned on the version read, so two copies
of the job (SQS delivers at least once) cannot both advance it: the loser stops.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict

from chalicelib import audit, clock
from chalicelib.fields import Model
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem, RecordChangedError
from chalicelib.store.unit_of_work import UnitOfWork, WriteCancelledError

_SK = "ROTATION"


class RotationStatus(StrEnum):
    PENDING = "pending"  # new key created and recorded; the tenant may not use it yet
    REENCRYPTING = "reencrypting"  # new key current; old keys still accepted for reads
    RETIRING = "retiring"  # all re-encrypted; old keys leaving the tenant, deletion scheduled
    COMPLETE = "complete"


class Checkpoint(Model):
    """Where a sweep resumes: inside ``pk`` at ``cursor``, or after every partition <= ``done_through``."""

    model_config = ConfigDict(extra="forbid")

    pk: str | None = None
    cursor: str | None = None
    done_through: str | None = None


class Rotation(Model):
    model_config = ConfigDict(extra="forbid")

    id: str
    status: RotationStatus
    new_key: str
    old_keys: list[str]
    started_at: datetime
    switched_at: datetime | None = None
    sweep_started_at: datetime | None = None
    finished_at: datetime | None = None
    checkpoint: Checkpoint | None = None
    sweeps: int = 0
    items_checked: int = 0
    items_reencrypted: int = 0
    items_unreadable: int = 0
    version: int = 0  # of the stored item; 0 until first saved

    @property
    def active(self) -> bool:
        return self.status is not RotationStatus.COMPLETE


def load() -> Rotation | None:
    item = data.get(data.partition(keys.KEY_ROTATION), _SK)
    if item is None or not item.data:
        return None
    return Rotation.model_validate({**data.loads(item.data), "version": int(item.version or 0)})


def save(rotation: Rotation, *, audit_details: dict[str, Any] | None = None) -> Rotation:
    """Store ``rotation`` if the stored record is still the one it was read as.

    With ``audit_details``, the save is one transaction with a ``key.rotated`` event in
    the tenant's trail (the moment the tenant's current key changed).
    """
    stored = rotation.model_copy(update={"version": rotation.version + 1})
    document = stored.model_dump(mode="json", exclude={"version"})
    item = data.new_item(pk=data.partition(keys.KEY_ROTATION), sk=_SK, kind=keys.KEY_ROTATION,
                         entity_id=stored.id, status=stored.status.value, version=stored.version,
                         created_at=stored.started_at.isoformat(), updated_at=clock.now().isoformat(),
                         data=data.dumps(document))
    condition = data.version_condition(rotation.version)
    if audit_details is None:
        data.save_versioned(item, rotation.version, RecordChangedError)
        return stored

    uow = UnitOfWork()
    uow.put("rotation", item, condition)
    audit.record(uow, audit.Action.KEY_ROTATED, audit.Target("tenant_key", stored.id), details=audit_details)
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if "rotation" in exc.failed:
            raise RecordChangedError() from exc
        raise
    return stored


def delete(rotation: Rotation) -> None:
    """Remove a rotation that never switched keys (its creation is being undone)."""
    data.bind()
    DataItem(pk=data.partition(keys.KEY_ROTATION), sk=_SK).delete(condition=DataItem.version == rotation.version)
