"""Customers: the vehicle owners a tenant's professionals serve and refer.

A customer is its item (``CUS``: ``data`` holds only ``user_sub``; name, contacts,
notes and the vehicles, whose VINs are PII, are in ``pii``; ``refs`` counts the open
referrals naming it) and, when it has a login, a link item (``CUSUSER``, sort key the
token's ``sub``) written in the same transaction, so a login names one customer.

Who may read. Staff (``CUSTOMERS_READ``) read every customer; a customer login
(``CUSTOMERS_READ_OWN``) reads only the record linked to its ``sub``, and any other id
is a 404, so a customer cannot learn which ids exist. :func:`reader` makes that
decision and every read takes its :class:`Reader`, so none runs without the check.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from chalicelib import audit
from chalicelib.auth.permissions import Permission
from chalicelib.clock import now_iso
from chalicelib.crypto import pii
from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError, PreconditionFailedError
from chalicelib.fields import pii_fields
from chalicelib.http import ListQuery
from chalicelib.limits import counters, effective_limits
from chalicelib.network.customers.models import Customer, CustomerCreate, CustomerUpdate
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import UnitOfWork, WriteCancelledError
from chalicelib.tenancy.context import current_context

PII = pii_fields(CustomerCreate)
DELETE_ATTEMPTS = 3
# Labels of a customer write's own actions (the customer, its login link).
CUSTOMER, USER = "customer", "user"


@dataclass(frozen=True)
class Reader:
    """Staff (``own_sub`` None) or a customer login reading its own record."""

    own_sub: str | None

    def may_read(self, item: DataItem) -> bool:
        return self.own_sub is None or data.loads(item.data).get("user_sub") == self.own_sub


def reader() -> Reader:
    """The caller's read scope; 403 for a caller with neither read permission."""
    ctx = current_context()
    if Permission.CUSTOMERS_READ in ctx.permissions:
        return Reader(None)
    if Permission.CUSTOMERS_READ_OWN in ctx.permissions and ctx.principal is not None:
        return Reader(ctx.principal.sub)
    raise ForbiddenError("your roles do not allow this")


def _pk() -> str:
    return data.partition(keys.CUSTOMER)


def _user_pk() -> str:
    return data.partition(keys.CUSTOMER_USER)


def _documents(customer_id: str, fields: dict[str, Any]) -> dict[str, str]:
    """``data`` and ``pii`` of the item: every PII field goes, encrypted, to ``pii``, nothing else does."""
    return {
        "data": data.dumps({k: v for k, v in fields.items() if k not in PII}),
        "pii": pii.seal(keys.CUSTOMER, customer_id, {k: v for k, v in fields.items() if k in PII}),
    }


def _fields(item: DataItem) -> dict[str, Any]:
    return {**data.loads(item.data), **pii.unseal(keys.CUSTOMER, str(item.entity_id), item.pii)}


def _customer(item: DataItem) -> Customer:
    return Customer(id=item.entity_id, version=int(item.version or 1), created_at=item.created_at,
                    updated_at=item.updated_at, **_fields(item))


def _load(customer_id: UUID, who: Reader | None = None) -> DataItem:
    item = data.get(_pk(), str(customer_id))
    if item is None or (who is not None and not who.may_read(item)):
        raise NotFoundError("no such customer")
    return item


# ---- reads -----------------------------------------------------------------------------

def _own(sub: str) -> list[Customer]:
    link = data.get(_user_pk(), sub)
    item = data.get(_pk(), link.entity_id) if link is not None and link.entity_id else None
    return [_customer(item)] if item is not None else []


def list_customers(who: Reader, query: ListQuery) -> tuple[list[Customer], str | None]:
    if who.own_sub is not None:
        data.decode_cursor(query.cursor)  # a foreign or forged cursor is refused here too
        return _own(who.own_sub), None
    page = data.query_page(_pk(), limit=query.limit, cursor=query.cursor)
    return [_customer(i) for i in page.items], page.next_cursor


def export_page(limit: int, cursor: str | None) -> tuple[list[Customer], str | None]:
    """Every customer, in key order, in pages of up to ``data.MAX_BULK_PAGE`` (exports: staff only)."""
    page = data.query_page(_pk(), limit=limit, cursor=cursor, bulk=True)
    return [_customer(i) for i in page.items], page.next_cursor


def get_customer(who: Reader, customer_id: UUID) -> Customer:
    return _customer(_load(customer_id, who))


# ---- writes ----------------------------------------------------------------------------

def _event(uow: UnitOfWork, action: audit.Action, customer_id: str, before: dict[str, Any] | None,
           after: dict[str, Any] | None) -> None:
    """The audit event joins the write's unit of work (PII fields listed, values redacted)."""
    audit.record(uow, action, audit.Target("customer", customer_id), changes=audit.changes(before, after, pii=PII))


def create_customer(body: CustomerCreate) -> Customer:
    customer_id, now = str(uuid4()), now_iso()
    fields = body.model_dump(mode="json")
    item = data.new_item(pk=_pk(), sk=customer_id, kind=keys.CUSTOMER, entity_id=customer_id, version=1,
                         created_at=now, updated_at=now, refs=0, **_documents(customer_id, fields))
    absent = DataItem.pk.does_not_exist()
    limit = effective_limits().max_customers

    uow = UnitOfWork()
    uow.put(CUSTOMER, item, absent)
    if body.user_sub:
        link = data.new_item(pk=_user_pk(), sk=body.user_sub, kind=keys.CUSTOMER_USER, entity_id=customer_id)
        uow.put(USER, link, absent)
    _event(uow, audit.Action.CUSTOMER_CREATED, customer_id, None, fields)
    try:
        counters.commit_create(uow, counters.CUSTOMERS, limit)  # 403 at the limit
    except WriteCancelledError as exc:
        if USER in exc.failed:
            raise ConflictError("this login is linked to another customer",
                                extra={"conflict": "user_taken"}) from exc
        raise data.ConcurrentWriteError() from exc  # a uuid4 collision: a retry gets another id
    return _customer(item)


def update_customer(customer_id: UUID, body: CustomerUpdate, expected: int) -> Customer:
    item = _load(customer_id)
    if int(item.version or 1) != expected:
        raise PreconditionFailedError()
    before = _fields(item)
    after = {**before, **body.model_dump(mode="json", exclude_unset=True, exclude={"version"})}
    documents = _documents(item.sk, after)
    item.data, item.pii, item.version, item.updated_at = documents["data"], documents["pii"], expected + 1, now_iso()
    actions: list[Any] = [DataItem.data.set(item.data), DataItem.pii.set(item.pii), DataItem.version.set(item.version),
                          DataItem.updated_at.set(item.updated_at)]

    uow = UnitOfWork()
    uow.update(CUSTOMER, item, actions, DataItem.version == expected)
    _event(uow, audit.Action.CUSTOMER_UPDATED, item.sk, before, after)
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if CUSTOMER not in exc.failed:
            raise
        _load(customer_id)  # 404 if it was deleted meanwhile
        raise PreconditionFailedError() from exc
    return _customer(item)


def _delete(item: DataItem) -> frozenset[str]:
    """Delete the customer and its login link as read; the failed labels (none: deleted):
    ``CUSTOMER`` if it changed since."""
    unreferenced = DataItem.refs.does_not_exist() | (DataItem.refs == 0)
    user_sub = data.loads(item.data).get("user_sub")
    uow = UnitOfWork()
    uow.delete(CUSTOMER, item, DataItem.pk.exists() & unreferenced & (DataItem.version == item.version))
    if user_sub:
        uow.delete(USER, DataItem(pk=_user_pk(), sk=user_sub))
    _event(uow, audit.Action.CUSTOMER_DELETED, item.sk, _fields(item), None)
    try:
        counters.commit_delete(uow, counters.CUSTOMERS)
    except WriteCancelledError as exc:
        return exc.failed
    return frozenset()


def delete_customer(customer_id: UUID) -> None:
    for _ in range(DELETE_ATTEMPTS):
        item = _load(customer_id)
        if int(item.refs or 0) > 0:
            raise ConflictError("open referrals name this customer", extra={"conflict": "has_open_referrals"})
        if not _delete(item):
            return
        # It changed between the read and the write (an edit or a new referral): decide again.
    raise data.ConcurrentWriteError()
