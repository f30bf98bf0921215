"""Service categories: the kinds of work a tenant's professionals do.

Every write is one TransactWriteItems with its audit event (``chalicelib.audit``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib import audit
from chalicelib.clock import now_iso
from chalicelib.errors import ConflictError, NotFoundError, PreconditionFailedError
from chalicelib.network.categories.models import Category, CategoryCreate, CategoryUpdate
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem, TransactionCancelledError


def _category(item: DataItem) -> Category:
    fields = data.loads(item.data)
    return Category(
        slug=item.sk, version=int(item.version or 1), created_at=item.created_at, updated_at=item.updated_at,
        name=fields["name"], description=fields.get("description"), active=fields.get("active", True),
    )


def _status(active: bool) -> str:
    # Top-level so that a referral's transaction can condition on an active category.
    return "active" if active else "inactive"


def _pk() -> str:
    return data.partition(keys.CATEGORY)


def list_categories(limit: int, cursor: str | None) -> tuple[list[Category], str | None]:
    page = data.query_page(_pk(), limit=limit, cursor=cursor)
    return [_category(i) for i in page.items], page.next_cursor


def export_page(limit: int, cursor: str | None) -> tuple[list[Category], str | None]:
    """Every category, in key order, in pages of up to ``data.MAX_BULK_PAGE`` (exports)."""
    page = data.query_page(_pk(), limit=limit, cursor=cursor, bulk=True)
    return [_category(i) for i in page.items], page.next_cursor


def get_category(slug: str) -> Category:
    item = data.get(_pk(), slug)
    if item is None:
        raise NotFoundError("no such service category")
    return _category(item)


def _event(action: audit.Action, slug: str, before: dict[str, Any] | None,
           after: dict[str, Any] | None) -> Callable[[TransactWrite], None]:
    def add(tx: TransactWrite) -> None:
        # Categories hold no PII.
        audit.record(tx, action, audit.Target("service_category", slug),
                     changes=audit.changes(before, after, pii=frozenset()))

    return add


def create_category(body: CategoryCreate) -> Category:
    now = now_iso()
    fields: dict[str, Any] = {"name": body.name, "description": body.description, "active": body.active}
    item = data.new_item(pk=_pk(), sk=body.slug, kind=keys.CATEGORY, entity_id=body.slug, version=1,
                         created_at=now, updated_at=now, data=data.dumps(fields), refs=0,
                         status=_status(body.active))
    event = _event(audit.Action.SERVICE_CATEGORY_CREATED, body.slug, None, fields)

    def build(tx: TransactWrite) -> None:
        tx.save(item, condition=DataItem.pk.does_not_exist())  # sent first: reason 0
        event(tx)

    try:
        data.transact(build)
    except TransactionCancelledError as exc:
        if exc.failed(0):
            raise ConflictError("a category with this slug exists", extra={"conflict": "category_exists"}) from exc
        raise
    return _category(item)


def update_category(slug: str, body: CategoryUpdate, expected: int) -> Category:
    item = data.get(_pk(), slug)
    if item is None:
        raise NotFoundError("no such service category")
    if int(item.version or 1) != expected:
        raise PreconditionFailedError()
    before = data.loads(item.data)
    fields = {**before, **body.model_dump(exclude_unset=True, exclude={"version"})}
    item.data, item.version, item.updated_at = data.dumps(fields), expected + 1, now_iso()
    actions: list[Any] = [DataItem.data.set(item.data), DataItem.version.set(item.version),
                          DataItem.updated_at.set(item.updated_at), DataItem.status.set(_status(fields["active"]))]
    event = _event(audit.Action.SERVICE_CATEGORY_UPDATED, slug, before, fields)

    def build(tx: TransactWrite) -> None:
        tx.update(item, actions=actions, condition=DataItem.version == expected)
        event(tx)

    try:
        data.transact(build)
    except TransactionCancelledError as exc:
        if exc.failed(1):  # the event's Put is sent before the Update
            raise PreconditionFailedError() from exc
        raise
    return _category(item)


def delete_category(slug: str) -> None:
    item = data.get(_pk(), slug)
    if item is None:
        raise NotFoundError("no such service category")
    unreferenced = DataItem.refs.does_not_exist() | (DataItem.refs == 0)
    # Conditioned on the version read, so the event records what was deleted.
    condition = DataItem.pk.exists() & unreferenced & (DataItem.version == item.version)
    event = _event(audit.Action.SERVICE_CATEGORY_DELETED, slug, data.loads(item.data), None)

    def build(tx: TransactWrite) -> None:
        tx.delete(DataItem(pk=item.pk, sk=item.sk), condition=condition)  # sent first: reason 0
        event(tx)

    try:
        data.transact(build)
    except TransactionCancelledError as exc:
        if not exc.failed(0):
            raise
        current = data.get(_pk(), slug)
        if current is None:
            raise NotFoundError("no such service category") from exc
        if int(current.refs or 0) > 0:
            raise ConflictError("professionals still offer this category",
                                extra={"conflict": "category_in_use"}) from exc
        raise data.ConcurrentWriteError() from exc  # edited meanwhile: a retry deletes the new version
