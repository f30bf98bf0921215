"""Service categories: the kinds of work a tenant's professionals do."""
from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.network.common import PreconditionFailedError, now_iso
from chalicelib.network.models import Category, CategoryCreate, CategoryUpdate
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem


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


def get_category(slug: str) -> Category:
    item = data.get(_pk(), slug)
    if item is None:
        raise NotFoundError("no such service category")
    return _category(item)


def create_category(body: CategoryCreate) -> Category:
    now = now_iso()
    fields: dict[str, Any] = {"name": body.name, "description": body.description, "active": body.active}
    item = data.new_item(pk=_pk(), sk=body.slug, kind=keys.CATEGORY, entity_id=body.slug, version=1,
                         created_at=now, updated_at=now, data=data.dumps(fields), refs=0,
                         status=_status(body.active))
    try:
        item.save(condition=DataItem.pk.does_not_exist())
    except PutError as exc:
        if data.condition_failed(exc):
            raise ConflictError("a category with this slug exists", extra={"conflict": "category_exists"}) from exc
        raise
    return _category(item)


def update_category(slug: str, body: CategoryUpdate, expected: int) -> Category:
    item = data.get(_pk(), slug)
    if item is None:
        raise NotFoundError("no such service category")
    if int(item.version or 1) != expected:
        raise PreconditionFailedError()
    fields = data.loads(item.data)
    fields.update(body.model_dump(exclude_unset=True, exclude={"version"}))
    item.data = data.dumps(fields)
    try:
        item.update(
            actions=[DataItem.data.set(item.data), DataItem.version.set(expected + 1),
                     DataItem.updated_at.set(now_iso()), DataItem.status.set(_status(fields["active"]))],
            condition=DataItem.version == expected,
        )
    except UpdateError as exc:
        if data.condition_failed(exc):
            raise PreconditionFailedError() from exc
        raise
    return _category(item)


def delete_category(slug: str) -> None:
    item = DataItem(pk=_pk(), sk=slug)
    try:
        item.delete(condition=DataItem.pk.exists() & (DataItem.refs.does_not_exist() | (DataItem.refs == 0)))
    except DeleteError as exc:
        if not data.condition_failed(exc):
            raise
        if data.get(_pk(), slug) is None:
            raise NotFoundError("no such service category") from exc
        raise ConflictError("professionals still offer this category",
                            extra={"conflict": "category_in_use"}) from exc
