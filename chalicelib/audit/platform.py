"""The audit trail's registry-table items: the platform trail and each tenant's anchor.

Platform trail: events of the platform itself (tenant lifecycle, plan changes), one
partition ``PLATFORM#AUDIT`` of the registry table, sort key the event id. Only
super-admins read it (GET /api/admin/audit). A lifecycle event is written to both
trails, with one id, in the transaction that changes the tenant.

Anchor: beside each tenant item, the end of the tenant's chain (end and hash of
the newest digest) and the retention watermark (everything before it may have been
purged). Tenant-scoped access never reaches the registry (the guard in tests, IAM's
``dynamodb:LeadingKeys`` in AWS), so someone who can rewrite a tenant's data items
still cannot cut the end off its chain, or pretend that retention deleted events.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib import clock, cursors
from chalicelib.audit import events, policy, recording
from chalicelib.audit.actions import Action
from chalicelib.audit.events import Target
from chalicelib.store import keys, registry
from chalicelib.store.unit_of_work import UnitOfWork
from chalicelib.tenancy.context import current_context, current_origin


class PlatformEventItem(Model):
    class Meta:
        table_name: str | None = None
        region: str | None = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute(null=True)
    action = UnicodeAttribute()
    actor = UnicodeAttribute()
    target = UnicodeAttribute()
    data = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)


class AnchorItem(Model):
    class Meta:
        table_name: str | None = None
        region: str | None = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    # Stored as sealed_end/sealed_hash (names kept so existing anchors stay readable).
    chained_end = UnicodeAttribute(null=True, attr_name="sealed_end")
    chained_hash = UnicodeAttribute(null=True, attr_name="sealed_hash")
    purged_before = UnicodeAttribute(null=True)


registry.register_model(PlatformEventItem)
registry.register_model(AnchorItem)


# ---- writing ---------------------------------------------------------------------------

def record_lifecycle(uow: UnitOfWork, action: Action, *, changes: dict[str, dict[str, Any]],
                     at: datetime | None = None, label: str = recording.EVENT) -> dict[str, Any]:
    """The event in the bound tenant's trail (``label``) and, with the same id, in the
    platform trail (``label`` + ``:platform``)."""
    ctx = current_context()
    event = recording.record(uow, action, Target("tenant", str(ctx.tenant_id)), changes=changes, at=at, label=label)
    registry.bind()
    item = PlatformEventItem(
        pk=keys.PLATFORM_AUDIT_PK, sk=event["id"], tenant_id=event["tenant_id"], action=event["action"],
        actor=events.actor_ref(event), target=f"tenant:{ctx.tenant_id}", data=events.canonical(event),
        expires_at=policy.ttl_backstop(datetime.fromisoformat(event["at"])),
    )
    uow.put(f"{label}:platform", item, PlatformEventItem.pk.does_not_exist())
    return event


def record_platform(uow: UnitOfWork, action: Action, target: Target, *,
                    changes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An event of the platform itself (a plan edited), in the platform trail only."""
    event = events.new_event(action, target, tenant_id=None, source=current_origin(),
                             at=clock.now(), changes=changes)
    registry.bind()
    item = PlatformEventItem(
        pk=keys.PLATFORM_AUDIT_PK, sk=event["id"], action=event["action"], actor=events.actor_ref(event),
        target=target.ref, data=events.canonical(event),
        expires_at=policy.ttl_backstop(datetime.fromisoformat(event["at"])),
    )
    uow.put(recording.EVENT, item, PlatformEventItem.pk.does_not_exist())
    return event


def _anchor_key(tenant_id: UUID) -> AnchorItem:
    registry.bind()
    return AnchorItem(pk=keys.tenant_pk(tenant_id), sk=keys.AUDIT_ANCHOR_SK)


ANCHOR = "anchor"  # the label of the anchor's Update in its unit of work


def chain_anchor(uow: UnitOfWork, tenant_id: UUID, *, previous_end: str | None, end: str,
                digest_hash: str) -> None:
    """Move the anchor from the digest ending at ``previous_end`` (None: the first digest) to
    the one ending at ``end``; conditioned on it, so two chaining runs cannot both extend the
    chain."""
    previous = (AnchorItem.chained_end == previous_end) if previous_end else AnchorItem.chained_end.does_not_exist()
    uow.update(ANCHOR, _anchor_key(tenant_id),
               [AnchorItem.chained_end.set(end), AnchorItem.chained_hash.set(digest_hash)], previous)


def purge_anchor(uow: UnitOfWork, tenant_id: UUID, purged_before: str) -> None:
    uow.update(ANCHOR, _anchor_key(tenant_id), [AnchorItem.purged_before.set(purged_before)])


@dataclass(frozen=True)
class Anchor:
    chained_end: str | None
    chained_hash: str | None
    purged_before: str | None


def anchor(tenant_id: UUID) -> Anchor:
    registry.bind()
    try:
        item = AnchorItem.get(keys.tenant_pk(tenant_id), keys.AUDIT_ANCHOR_SK, consistent_read=True)
    except AnchorItem.DoesNotExist:
        return Anchor(None, None, None)
    return Anchor(item.chained_end, item.chained_hash, item.purged_before)


# ---- reading ---------------------------------------------------------------------------

_CURSOR_SCOPE = "platform-audit"


def _platform_trail_key(values: dict[str, str]) -> bool:
    return set(values) == {"pk", "sk"} and values["pk"] == keys.PLATFORM_AUDIT_PK


def _encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    return cursors.encode(_CURSOR_SCOPE, last_key)


def _decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The key to resume from; refused unless it is a key of the platform trail."""
    return cursors.decode(_CURSOR_SCOPE, cursor, _platform_trail_key)


def list_events(*, limit: int, cursor: str | None, range_condition: Any, filters: Any,
                tenant_id: UUID | None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the platform trail, newest first."""
    registry.bind()
    if tenant_id is not None:
        by_tenant = PlatformEventItem.tenant_id == str(tenant_id)
        filters = by_tenant if filters is None else filters & by_tenant
    results = PlatformEventItem.query(
        keys.PLATFORM_AUDIT_PK, range_key_condition=range_condition, filter_condition=filters,
        limit=limit, last_evaluated_key=_decode_cursor(cursor), scan_index_forward=False,
    )
    items = [json.loads(item.data) for item in results]
    return items, _encode_cursor(results.last_evaluated_key)
