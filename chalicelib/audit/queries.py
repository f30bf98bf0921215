"""Reading the trails: the bound tenant's (GET /api/tenant/audit) and the platform's.

Time bounds are key conditions on the time-ordered ids; action, actor and target are
filters on the items' top-level copies. The tenant's lower bound is never older than
the retention in force, so an expired event is not returned even before the retention
job has deleted it.
"""
from __future__ import annotations

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
    """One page of the bound tenant's events, newest first."""
    ctx = current_context()
    retained = policy.cutoff(ctx.tenant, now or clock.now())
    low = max(query.from_, retained) if query.from_ else retained
    possible, condition = key_range(DataItem, low, query.to)
    if not possible:
        data.decode_cursor(query.cursor)  # a foreign or forged cursor is refused all the same
        return [], None
    page = data.query_page(data.partition(keys.AUDIT), limit=query.limit, cursor=query.cursor,
                           filter_condition=filters(DataItem, query), newest_first=True,
                           range_key_condition=condition)
    return [json.loads(item.data) for item in page.items], page.next_cursor


def list_platform_events(query: PlatformAuditQuery) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the platform trail, newest first."""
    possible, condition = key_range(platform.PlatformEventItem, query.from_, query.to)
    if not possible:
        return [], None
    return platform.list_events(limit=query.limit, cursor=query.cursor, range_condition=condition,
                                filters=filters(platform.PlatformEventItem, query), tenant_id=query.tenant)
