"""Reading the trails: the bound tenant's (GET /api/tenant/audit) and the platform's.

Time bounds are key conditions on the time-ordered ids; action, actor and target are
filters on the items' top-level copies. The tenant's lower bound is never older than
the retention in force, so an expired event is not returned even before the retention
job has deleted it.
"""
from __future__ import annotations

import heapq
import itertools
import json
from datetime import datetime
from typing import Any

from chalicelib import clock
from chalicelib.audit import ids, platform, policy
from chalicelib.audit.models import AuditQuery, PlatformAuditQuery
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.tenancy.context import current_context


def filters(model: Any, query: AuditQuery) -> Any:
    """The filter condition for ``model`` (DataItem or the platform item), or None."""
    conditions = []
    if query.action:
        subject = query.action[:-2] if query.action.endswith(".*") else None
        conditions.append(model.action.startswith(subject + ".") if subject else model.action == query.action)
    if query.actor:
        conditions.append(model.actor == query.actor)
    if query.target:
        exact = ":" in query.target
        conditions.append(model.target == query.target if exact else model.target.startswith(query.target + ":"))
    combined = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def key_range(model: Any, low: datetime | None, high: datetime | None) -> tuple[bool, Any]:
    """(whether anything can match, the sort key condition) for ``low <= at <= high``."""
    if low is not None and high is not None:
        return low <= high, model.sk.between(ids.floor(low), ids.ceiling(high))
    if low is not None:
        return True, model.sk >= ids.floor(low)
    if high is not None:
        return True, model.sk <= ids.ceiling(high)
    return True, None


def list_events(query: AuditQuery, now: datetime | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the bound tenant's events, newest first, merged from the trail's shards.

    Each shard is queried newest first from below the cursor (the id of the last event
    returned: ids are unique and time-ordered, so "older than it" is the rest of the
    listing in every shard) and the streams are merged by id; one event beyond the page
    says whether there is a next one. A shard reads at most ``limit + 1`` matching items
    a page, so a page costs up to ``shards x (limit + 1)`` items read (DynamoDB applies a
    filter after reading).
    """
    ctx = current_context()
    retained = policy.cutoff(ctx.tenant, now or clock.now())
    low = max(query.from_, retained) if query.from_ else retained
    after = data.decode_cursor(query.cursor)  # a foreign or forged cursor is refused
    before = after["sk"]["S"] if after else None
    possible, condition = _below(low, query.to, before)
    if not possible:
        return [], None
    data.bind()
    matching = filters(DataItem, query)
    shards = [DataItem.query(data.partition(kind), range_key_condition=condition, filter_condition=matching,
                             scan_index_forward=False, page_size=query.limit + 1) for kind in keys.AUDIT_SHARD_KINDS]
    merged = (item for item in heapq.merge(*shards, key=_event_id, reverse=True) if item.sk != before)
    page = list(itertools.islice(merged, query.limit + 1))
    more = len(page) > query.limit
    page = page[:query.limit]
    cursor = data.encode_cursor({"pk": {"S": data.partition(keys.AUDIT)}, "sk": {"S": page[-1].sk}}) if more else None
    return [json.loads(item.data) for item in page], cursor


def _event_id(item: DataItem) -> str:
    return str(item.sk)


def _below(low: datetime, high: datetime | None, before: str | None) -> tuple[bool, Any]:
    """The sort key condition for ``low <= at <= high`` and ``id <= before`` (the caller
    drops ``id == before``: BETWEEN is inclusive, and a condition is one comparison)."""
    upper = ids.ceiling(high) if high is not None else None
    if before is not None:
        upper = before if upper is None else min(upper, before)
    if upper is None:
        return True, DataItem.sk >= ids.floor(low)
    return ids.floor(low) <= upper, DataItem.sk.between(ids.floor(low), upper)


def list_platform_events(query: PlatformAuditQuery) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the platform trail, newest first."""
    possible, condition = key_range(platform.PlatformEventItem, query.from_, query.to)
    if not possible:
        return [], None
    return platform.list_events(limit=query.limit, cursor=query.cursor, range_condition=condition,
                                filters=filters(platform.PlatformEventItem, query), tenant_id=query.tenant)
