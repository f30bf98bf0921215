"""Professionals: the shops, mechanics and body shops of a tenant's network.

One professional is several items, always written together in one TransactWriteItems
(see the access-pattern table in ``network/__init__.py``):

* the item itself (``PRO``): non-PII fields in ``data``, PII in ``pii``, top-level
  ``status`` (a referral's transaction conditions on ``active``) and ``refs`` (open
  referrals pointing at it; a delete is conditioned on zero);
* its email's uniqueness item (``PROEMAIL``, sort key a blind index, so no email is in
  a key);
* per service category, a ``refs`` on the category item and a full copy of the
  professional under ``PROCAT#<slug>``, so listing a category is one Query;
* its login link (``PROUSER``, sort key the token's ``sub``), if it has one.
"""
# Over 300 lines: a professional's item, its email index, category copies, login link and
# counters change in the same transactions, built side by side here.
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from chalicelib import audit
from chalicelib.clock import now_iso
from chalicelib.crypto import pii
from chalicelib.crypto.blind_index import blind_index, normalise_email
from chalicelib.errors import ConflictError, NotFoundError, PreconditionFailedError, RequestValidationError
from chalicelib.fields import pii_fields
from chalicelib.limits import counters, effective_limits
from chalicelib.network.professionals.models import (
    Professional,
    ProfessionalCreate,
    ProfessionalQuery,
    ProfessionalUpdate,
)
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import UnitOfWork, WriteCancelledError

EMAIL_PURPOSE = "professional-email"
PII = pii_fields(ProfessionalCreate)
DELETE_ATTEMPTS = 3
_ABSENT = DataItem.pk.does_not_exist()
_DECIDED = frozenset({"item", "email", "user"})
_EXISTS = DataItem.pk.exists()


class UnknownCategoryError(RequestValidationError):
    def __init__(self, positions: list[int]) -> None:
        errors = [{"loc": ["body", "service_categories", str(i)], "type": "unknown_category",
                   "msg": "no such service category in this tenant"} for i in positions]
        super().__init__("unknown service category", extra={"errors": errors})


def _commit(uow: UnitOfWork, write: Callable[[], None] | None = None) -> frozenset[str]:
    """Write ``uow`` (by ``write``: a counted create or delete); the failed labels this
    module decides on (none: written).

    Those are the item, its email and login link and the categories it joins (the usage
    counter's are decided by ``limits.counters``). Any other action's condition holds by
    construction (a category with members cannot be deleted; event ids are new): its
    failure is not ours to translate, a 500.
    """
    try:
        (write or uow.commit)()
    except WriteCancelledError as exc:
        decided = frozenset(label for label in exc.failed if label in _DECIDED or label.startswith("category:"))
        if decided:
            return decided
        raise
    return frozenset()


# ---- items -----------------------------------------------------------------------------

def _pk() -> str:
    return data.partition(keys.PROFESSIONAL)


def _key(pk: str, sk: str) -> DataItem:
    return DataItem(pk=pk, sk=sk)


def _email_sk(email: str) -> str:
    return blind_index(EMAIL_PURPOSE, normalise_email(email))


def _pointer(kind: str, sk: str, professional_id: str) -> DataItem:
    """An index item (email, login link) that names its professional."""
    return data.new_item(pk=data.partition(kind), sk=sk, kind=kind, entity_id=professional_id)


def _copy(item: DataItem, slug: str) -> DataItem:
    """The professional as listed under a category; ``refs`` lives on the item alone."""
    return data.new_item(
        pk=data.partition(keys.PROFESSIONAL_CATEGORY, slug), sk=item.sk, kind=keys.PROFESSIONAL_CATEGORY,
        entity_id=item.entity_id, status=item.status, version=item.version, created_at=item.created_at,
        updated_at=item.updated_at, data=item.data, pii=item.pii,
    )


def _fields(item: DataItem) -> dict[str, Any]:
    # Category copies carry the item's ciphertext, sealed as a PRO of the same id.
    return {**data.loads(item.data), **pii.unseal(keys.PROFESSIONAL, str(item.entity_id), item.pii)}


def _documents(professional_id: str, fields: dict[str, Any]) -> dict[str, str]:
    """``data`` and ``pii`` of an item: every PII field goes, encrypted, to ``pii``, nothing else does."""
    return {
        "data": data.dumps({k: v for k, v in fields.items() if k not in PII}),
        "pii": pii.seal(keys.PROFESSIONAL, professional_id, {k: v for k, v in fields.items() if k in PII}),
    }


def _professional(item: DataItem) -> Professional:
    return Professional(id=item.entity_id, version=int(item.version or 1), created_at=item.created_at,
                        updated_at=item.updated_at, **_fields(item))


def _load(professional_id: UUID) -> DataItem:
    item = data.get(_pk(), str(professional_id))
    if item is None:
        raise NotFoundError("no such professional")
    return item


# ---- reads -----------------------------------------------------------------------------

def list_professionals(query: ProfessionalQuery) -> tuple[list[Professional], str | None]:
    pk = data.partition(keys.PROFESSIONAL_CATEGORY, query.category) if query.category else _pk()
    page = data.query_page(pk, limit=query.limit, cursor=query.cursor)
    return [_professional(i) for i in page.items], page.next_cursor


def export_page(limit: int, cursor: str | None) -> tuple[list[Professional], str | None]:
    """Every professional, in key order, in pages of up to ``data.MAX_BULK_PAGE`` (exports)."""
    page = data.query_page(_pk(), limit=limit, cursor=cursor, bulk=True)
    return [_professional(i) for i in page.items], page.next_cursor


def get_professional(professional_id: UUID) -> Professional:
    return _professional(_load(professional_id))


# ---- writes ----------------------------------------------------------------------------

def _raise_for(failed: frozenset[str], categories: list[str]) -> None:
    """Translate the failed conditions of a cancelled write, the client's mistake first."""
    unknown = [i for i, slug in enumerate(categories) if f"category:{slug}" in failed]
    if unknown:
        raise UnknownCategoryError(unknown)
    if "email" in failed:
        raise ConflictError("another professional has this email", extra={"conflict": "email_taken"})
    if "user" in failed:
        raise ConflictError("this login is linked to another professional", extra={"conflict": "user_taken"})
    if failed:
        raise data.ConcurrentWriteError()


def _event(uow: UnitOfWork, action: audit.Action, professional_id: str, before: dict[str, Any] | None,
           after: dict[str, Any] | None) -> None:
    """The audit event joins the write's unit of work (PII fields listed, values redacted)."""
    audit.record(uow, action, audit.Target("professional", professional_id),
                 changes=audit.changes(before, after, pii=PII))


def create_professional(body: ProfessionalCreate) -> Professional:
    professional_id, now = str(uuid4()), now_iso()
    fields = body.model_dump(mode="json")
    item = data.new_item(pk=_pk(), sk=professional_id, kind=keys.PROFESSIONAL, entity_id=professional_id,
                         status=fields["status"], version=1, created_at=now, updated_at=now, refs=0,
                         **_documents(professional_id, fields))
    uow = UnitOfWork()
    uow.put("item", item, _ABSENT)
    uow.put("email", _pointer(keys.PROFESSIONAL_EMAIL, _email_sk(body.email), professional_id), _ABSENT)
    if body.user_sub:
        uow.put("user", _pointer(keys.PROFESSIONAL_USER, body.user_sub, professional_id), _ABSENT)
    for slug in body.service_categories:
        uow.update(f"category:{slug}", _key(data.partition(keys.CATEGORY), slug), [DataItem.refs.add(1)], _EXISTS)
        uow.put(f"copy:{slug}", _copy(item, slug))
    _event(uow, audit.Action.PROFESSIONAL_CREATED, professional_id, None, fields)
    limit = effective_limits().max_professionals
    # 403 at the limit (limits.counters); any other failed condition is translated here.
    _raise_for(_commit(uow, partial(counters.commit_create, uow, counters.PROFESSIONALS, limit)),
               body.service_categories)
    return _professional(item)


def _move_email(uow: UnitOfWork, item: DataItem, old: str, new: str) -> None:
    old_sk, new_sk = _email_sk(old), _email_sk(new)
    if old_sk != new_sk:
        uow.delete("old_email", _key(data.partition(keys.PROFESSIONAL_EMAIL), old_sk))
        uow.put("email", _pointer(keys.PROFESSIONAL_EMAIL, new_sk, item.sk), _ABSENT)


def _move_categories(uow: UnitOfWork, item: DataItem, old: list[str], new: list[str]) -> None:
    """Category refs move with membership; every current copy is rewritten with the item."""
    category_pk = data.partition(keys.CATEGORY)
    for slug in new:
        if slug not in old:
            uow.update(f"category:{slug}", _key(category_pk, slug), [DataItem.refs.add(1)], _EXISTS)
        uow.put(f"copy:{slug}", _copy(item, slug))
    for slug in old:
        if slug not in new:
            # A category with members cannot be deleted, so this one exists.
            uow.update(f"leave_category:{slug}", _key(category_pk, slug), [DataItem.refs.add(-1)], _EXISTS)
            uow.delete(f"copy:{slug}", _key(data.partition(keys.PROFESSIONAL_CATEGORY, slug), item.sk))


def update_professional(professional_id: UUID, body: ProfessionalUpdate, expected: int) -> Professional:
    item = _load(professional_id)
    if int(item.version or 1) != expected:
        raise PreconditionFailedError()
    before = _fields(item)
    after = {**before, **body.model_dump(mode="json", exclude_unset=True, exclude={"version"})}
    documents = _documents(item.sk, after)
    item.data, item.pii, item.status = documents["data"], documents["pii"], after["status"]
    item.version, item.updated_at = expected + 1, now_iso()
    uow = UnitOfWork()
    # An Update, not a Put: ``refs`` belongs to the referrals' transactions.
    uow.update("item", item, [DataItem.data.set(item.data), DataItem.pii.set(item.pii),
                              DataItem.status.set(item.status), DataItem.version.set(item.version),
                              DataItem.updated_at.set(item.updated_at)], DataItem.version == expected)
    _move_email(uow, item, before["email"], after["email"])
    _move_categories(uow, item, before["service_categories"], after["service_categories"])
    _event(uow, audit.Action.PROFESSIONAL_UPDATED, item.sk, before, after)
    failed = _commit(uow)
    if "item" in failed:
        _load(professional_id)  # 404 if it was deleted meanwhile
        raise PreconditionFailedError()
    _raise_for(failed, after["service_categories"])
    return _professional(item)


def _deletion(item: DataItem) -> UnitOfWork:
    fields = _fields(item)
    unreferenced = DataItem.refs.does_not_exist() | (DataItem.refs == 0)
    uow = UnitOfWork()
    # Conditioned on the version read too, so the index items removed are the current ones.
    uow.delete("item", item, _EXISTS & unreferenced & (DataItem.version == item.version))
    uow.delete("email", _key(data.partition(keys.PROFESSIONAL_EMAIL), _email_sk(fields["email"])))
    if fields.get("user_sub"):
        uow.delete("user", _key(data.partition(keys.PROFESSIONAL_USER), fields["user_sub"]))
    for slug in fields["service_categories"]:
        uow.update(f"leave_category:{slug}", _key(data.partition(keys.CATEGORY), slug), [DataItem.refs.add(-1)],
                   _EXISTS)
        uow.delete(f"copy:{slug}", _key(data.partition(keys.PROFESSIONAL_CATEGORY, slug), item.sk))
    _event(uow, audit.Action.PROFESSIONAL_DELETED, item.sk, fields, None)
    return uow


def delete_professional(professional_id: UUID) -> None:
    for _ in range(DELETE_ATTEMPTS):
        item = _load(professional_id)
        if int(item.refs or 0) > 0:
            raise ConflictError("open referrals point at this professional",
                                extra={"conflict": "has_open_referrals"})
        uow = _deletion(item)
        if not _commit(uow, partial(counters.commit_delete, uow, counters.PROFESSIONALS)):
            return
        # The item changed between the read and the write (an edit or a new referral):
        # read it again and decide on the current state.
    raise data.ConcurrentWriteError()
