"""Writing an event: always as one more action of the transaction that makes the change.

``record(uow, ...)`` adds a Put of the event, labelled ``event``, to the change's unit
of work (``store/unit_of_work.py``), so the change and its event are written together or
not at all: a refused or failed write leaves no event, and no change is ever stored
without one.

The event's id (its sort key) is minted here, as the transaction is built, so the
event's hour is the hour it is written in (see ``policy.CHAIN_MARGIN``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import clock
from chalicelib.audit import events, policy
from chalicelib.audit.actions import Action
from chalicelib.audit.events import Target
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import UnitOfWork
from chalicelib.tenancy.context import current_context

# The id is random, so this never fails in practice; it makes overwriting an event
# impossible rather than unlikely.
NEW_EVENT = DataItem.pk.does_not_exist()
# The label of an event's Put in its unit of work.
EVENT = "event"


def tenant_event(action: Action, target: Target, *, changes: dict[str, dict[str, Any]] | None = None,
                 details: dict[str, Any] | None = None, at: datetime | None = None) -> dict[str, Any]:
    """An event of the bound tenant, acted by the bound context's principal (or the system)."""
    ctx = current_context()
    return events.new_event(action, target, tenant_id=ctx.tenant_id, source=ctx, at=at or clock.now(),
                            changes=changes, details=details)


def item_for(event: dict[str, Any]) -> DataItem:
    """The data-table item that stores ``event`` in the bound tenant's trail."""
    return data.new_item(
        pk=data.partition(keys.audit_shard(event["id"])), sk=event["id"], kind=keys.AUDIT, entity_id=event["id"],
        created_at=event["at"], data=events.canonical(event), action=event["action"],
        actor=events.actor_ref(event), target=f'{event["target"]["kind"]}:{event["target"]["id"]}',
        expires_at=policy.ttl_backstop(datetime.fromisoformat(event["at"])),
    )


def event_item(action: Action, target: Target, *, changes: dict[str, dict[str, Any]] | None = None,
               details: dict[str, Any] | None = None) -> DataItem:
    return item_for(tenant_event(action, target, changes=changes, details=details))


def record(uow: UnitOfWork, action: Action, target: Target, *, changes: dict[str, dict[str, Any]] | None = None,
           details: dict[str, Any] | None = None, at: datetime | None = None,
           label: str = EVENT) -> dict[str, Any]:
    """Add the event's Put to ``uow`` under ``label`` (another label only for a unit that
    records more than one event)."""
    event = tenant_event(action, target, changes=changes, details=details, at=at)
    uow.put(label, item_for(event), NEW_EVENT)
    return event


def record_read_access(method: str, route: str, params: dict[str, str]) -> None:
    """A platform admin's read inside the bound tenant, in the tenant's own trail.

    DESIGN.md: a super-admin's access inside a tenant is audited there. Changes are
    audited with the change itself; a read changes nothing, so its event is written
    alone (a plain conditional Put: a one-item transaction would cost twice the
    capacity for nothing).
    """
    ctx = current_context()
    event = tenant_event(Action.TENANT_ACCESSED, Target("tenant", str(ctx.tenant_id)),
                         details={"method": method, "route": route, "params": params})
    item_for(event).save(condition=NEW_EVENT)
