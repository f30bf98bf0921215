"""Referrals: one professional sends a customer to another for a service category.

Who may do what. A route names one permission, but referrals have two audiences: staff
(``REFERRALS_READ``/``REFERRALS_WRITE``: tenant_admin, manager) see and change every
referral, while a professional (``REFERRALS_PARTICIPATE``) acts only as the professional
its login is linked to. :func:`caller` makes that decision from the bound context's
permissions and returns a :class:`Caller`; every service function takes one, so none can
run without the check. Staff permission wins when a principal holds both.

Counters: a referral is *open* while pending or accepted, and each open referral holds
one ``refs`` on both professionals and on the customer, so they cannot be deleted under
it. Every write that opens or closes a referral moves those counters in the same
``TransactWriteItems``, conditioned on the referenced items, all keyed under the bound
tenant: a reference to another tenant's item names nothing here and fails its condition.
"""
# Over 300 lines: a referral's create, status transitions and their reference counters on
# professionals and customers are one state machine, kept in one module.
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID, uuid4

from chalicelib import audit
from chalicelib.auth.permissions import Permission
from chalicelib.clock import now_iso
from chalicelib.config import effective
from chalicelib.crypto import pii
from chalicelib.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PreconditionFailedError,
    RequestValidationError,
)
from chalicelib.fields import pii_fields
from chalicelib.network.referrals import notices as referral_notices
from chalicelib.network.referrals.errors import (
    CategoryNotAllowedError,
    FeatureDisabledError,
    InvalidReferenceError,
    InvalidTransitionError,
)
from chalicelib.network.referrals.models import (
    OPEN_REFERRAL_STATUSES,
    REFERRAL_TRANSITIONS,
    Referral,
    ReferralCreate,
    ReferralQuery,
    ReferralStatus,
    ReferralUpdate,
)
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import UnitOfWork, WriteCancelledError
from chalicelib.tenancy.context import current_context

S = ReferralStatus
ACTIVE = "active"
SENDER_MAY_SET = frozenset({S.CANCELLED})
RECEIVER_MAY_SET = frozenset({S.ACCEPTED, S.DECLINED, S.COMPLETED})
# The referenced items a create conditions on, each labelled by the body field naming it
# (the order an InvalidReferenceError lists them in).
REFERENCES = ("service_category", "from_professional_id", "to_professional_id", "customer_id")
REFERRAL = "referral"  # the label of the referral's own action
PII = pii_fields(ReferralCreate)
DELETE_ATTEMPTS = 3


def settings() -> dict[str, Any]:
    """The bound tenant's effective configuration (features and referral settings)."""
    return effective.configuration(current_context().tenant)


def require_enabled(configuration: dict[str, Any] | None = None) -> None:
    """403 ``feature_disabled`` unless ``features.referrals`` is on (every referral route)."""
    if not (configuration or settings())["features"]["referrals"]:
        raise FeatureDisabledError("referrals are turned off for this network")


@dataclass(frozen=True)
class Caller:
    """Staff (``professional_id`` None) or the professional a login is linked to."""

    professional_id: UUID | None

    def role_in(self, fields: dict[str, Any]) -> Literal["staff", "sender", "receiver"] | None:
        if self.professional_id is None:
            return "staff"
        if fields["from_professional_id"] == str(self.professional_id):
            return "sender"
        if fields["to_professional_id"] == str(self.professional_id):
            return "receiver"
        return None


def caller(staff: Permission) -> Caller:
    """Who is acting: staff when the context grants ``staff``, else a linked professional, else
    403; 403 ``feature_disabled`` for everyone when referrals are off."""
    require_enabled()
    ctx = current_context()
    if staff in ctx.permissions:
        return Caller(None)
    if Permission.REFERRALS_PARTICIPATE not in ctx.permissions or ctx.principal is None:
        raise ForbiddenError("your roles do not allow this")
    link = data.get(data.partition(keys.PROFESSIONAL_USER), ctx.principal.sub)
    if link is None or not link.entity_id:
        raise ForbiddenError("your login is not linked to a professional")
    return Caller(UUID(link.entity_id))


# ---- items -----------------------------------------------------------------------------

def _pk() -> str:
    return data.partition(keys.REFERRAL)


def _key(pk: str, sk: str) -> DataItem:
    return DataItem(pk=pk, sk=sk)


def as_referral(item: DataItem) -> Referral:
    return Referral(
        id=UUID(item.sk), status=S(item.status), version=int(item.version or 1),
        created_at=item.created_at, updated_at=item.updated_at,
        notes=pii.unseal(keys.REFERRAL, item.sk, item.pii).get("notes"), **data.loads(item.data),
    )


def held_references(fields: dict[str, Any]) -> Iterator[tuple[str, DataItem]]:
    """The items an open referral holds a ``refs`` on, with the body field naming each."""
    for name, kind in (("from_professional_id", keys.PROFESSIONAL), ("to_professional_id", keys.PROFESSIONAL),
                       ("customer_id", keys.CUSTOMER)):
        yield name, _key(data.partition(kind), str(fields[name]))


def _visible(who: Caller, referral_id: UUID) -> DataItem:
    """The referral, if the caller may see it: a professional sees only its own (else 404)."""
    item = data.get(_pk(), str(referral_id))
    if item is None or who.role_in(data.loads(item.data)) is None:
        raise NotFoundError("no such referral")
    return item


def _query_error(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(message, extra={"errors": [{"loc": ["query", field], "type": "missing",
                                                              "msg": message}]})


# ---- service ---------------------------------------------------------------------------

def list_referrals(who: Caller, query: ReferralQuery) -> tuple[list[Referral], str | None]:
    professional_id = query.professional_id
    if who.professional_id is not None:
        if professional_id not in (None, who.professional_id):
            raise ForbiddenError("professionals list only their own referrals")
        if query.direction is None:
            raise ForbiddenError("professionals list the referrals they sent or received: pass direction")
        professional_id = who.professional_id
    if professional_id is not None and query.direction is None:
        raise _query_error("direction", "professional_id needs direction=sent or direction=received")
    if query.direction is not None and professional_id is None:
        raise _query_error("professional_id", "direction needs professional_id")
    if query.direction is not None:
        kind, index = (keys.REFERRAL_FROM, "gsi2") if query.direction == "sent" else (keys.REFERRAL_TO, "gsi3")
        page = data.query_page(
            data.partition(kind, str(professional_id)), index=index, limit=query.limit, cursor=query.cursor,
            filter_condition=(DataItem.status == query.status.value) if query.status else None, newest_first=True,
        )
    elif query.status is not None:
        page = data.query_page(data.partition(keys.REFERRAL_STATUS, query.status.value), index="gsi1",
                               limit=query.limit, cursor=query.cursor, newest_first=True)
    else:
        page = data.query_page(_pk(), limit=query.limit, cursor=query.cursor)
    return [as_referral(i) for i in page.items], page.next_cursor


def export_page(limit: int, cursor: str | None) -> tuple[list[Referral], str | None]:
    """Every referral, in key order, in pages of up to ``data.MAX_BULK_PAGE`` (exports: staff only)."""
    page = data.query_page(_pk(), limit=limit, cursor=cursor, bulk=True)
    return [as_referral(i) for i in page.items], page.next_cursor


def get_referral(who: Caller, referral_id: UUID) -> Referral:
    return as_referral(_visible(who, referral_id))


def _event(uow: UnitOfWork, action: audit.Action, referral_id: str, before: dict[str, Any] | None,
           after: dict[str, Any] | None) -> None:
    """The audit event joins the write's unit of work (notes listed, never shown)."""
    audit.record(uow, action, audit.Target("referral", referral_id), changes=audit.changes(before, after, pii=PII))


def create_referral(who: Caller, body: ReferralCreate, *, notify: bool = True) -> Referral:
    """``notify``: send the configured ``referral_created`` notices once it is stored (demo
    data passes False: its professionals' addresses are made up)."""
    if who.professional_id is not None and body.from_professional_id != who.professional_id:
        raise ForbiddenError("professionals send referrals only from their own professional")
    if body.from_professional_id == body.to_professional_id:
        raise RequestValidationError("a professional cannot refer to itself", extra={"errors": [
            {"loc": ["body", "to_professional_id"], "type": "self_referral",
             "msg": "must differ from from_professional_id"}]})
    configuration = settings()
    allowed = configuration["referrals"]["allowed_categories"]
    if allowed is not None and body.service_category not in allowed:
        raise CategoryNotAllowedError("this network does not take referrals in that category", extra={"errors": [
            {"loc": ["body", "service_category"], "type": "category_not_allowed",
             "msg": "not one of referrals.allowed_categories"}]})
    status = S.PENDING if configuration["referrals"]["acceptance_required"] else S.ACCEPTED
    referral_id, now = uuid4(), now_iso()
    fields = body.model_dump(mode="json", exclude={"notes"})
    order = keys.time_ordered(now, referral_id)
    item = data.new_item(
        pk=_pk(), sk=str(referral_id), kind=keys.REFERRAL, entity_id=str(referral_id), status=status.value,
        version=1, created_at=now, updated_at=now, data=data.dumps(fields),
        pii=pii.seal(keys.REFERRAL, str(referral_id), {"notes": body.notes}),
        gsi1pk=data.partition(keys.REFERRAL_STATUS, status.value), gsi1sk=order,
        gsi2pk=data.partition(keys.REFERRAL_FROM, fields["from_professional_id"]), gsi2sk=order,
        gsi3pk=data.partition(keys.REFERRAL_TO, fields["to_professional_id"]), gsi3sk=order,
    )
    active = DataItem.pk.exists() & (DataItem.status == ACTIVE)

    uow = UnitOfWork()
    uow.check("service_category", _key(data.partition(keys.CATEGORY), body.service_category), active)
    uow.put(REFERRAL, item, DataItem.pk.does_not_exist())
    _event(uow, audit.Action.REFERRAL_CREATED, item.sk, None, {**fields, "status": status.value, "notes": body.notes})
    for name, target in held_references(fields):
        uow.update(name, target, [DataItem.refs.add(1)], active if name != "customer_id" else DataItem.pk.exists())
    try:
        uow.commit()
    except WriteCancelledError as exc:
        invalid = [name for name in REFERENCES if name in exc.failed]
        if not invalid:
            raise
        raise InvalidReferenceError(invalid) from exc
    referral = as_referral(item)
    if notify:
        referral_notices.notify(referral, S.PENDING)
    return referral


def _check_transition(role: str, current: ReferralStatus, target: ReferralStatus) -> None:
    if role == "sender" and target not in SENDER_MAY_SET:
        raise ForbiddenError("the sender of a referral may only cancel it")
    if role == "receiver" and target not in RECEIVER_MAY_SET:
        raise ForbiddenError("the receiver of a referral may accept, decline or complete it")
    if target not in REFERRAL_TRANSITIONS[current]:
        raise InvalidTransitionError(f"a {current.value} referral cannot become {target.value}",
                                     extra={"from": current.value, "to": target.value})


def update_referral(who: Caller, referral_id: UUID, body: ReferralUpdate, expected: int) -> Referral:
    item = _visible(who, referral_id)
    if int(item.version or 1) != expected:
        raise PreconditionFailedError()
    fields, current = data.loads(item.data), S(item.status)
    target = body.status if body.status is not None else current
    if body.status is not None:
        _check_transition(who.role_in(fields) or "", current, target)
    now = now_iso()
    actions: list[Any] = [DataItem.version.set(expected + 1), DataItem.updated_at.set(now)]
    if target != current:
        item.gsi1pk = data.partition(keys.REFERRAL_STATUS, target.value)
        actions += [DataItem.status.set(target.value), DataItem.gsi1pk.set(item.gsi1pk)]
    before: dict[str, Any] = {"status": current.value}
    after: dict[str, Any] = {"status": target.value}
    if "notes" in body.model_fields_set:
        before["notes"], after["notes"] = as_referral(item).notes, body.notes
        item.pii = pii.seal(keys.REFERRAL, item.sk, {"notes": body.notes})
        actions.append(DataItem.pii.set(item.pii))
    closing = current in OPEN_REFERRAL_STATUSES and target not in OPEN_REFERRAL_STATUSES

    action = audit.Action.REFERRAL_STATUS_CHANGED if target != current else audit.Action.REFERRAL_UPDATED

    uow = UnitOfWork()
    uow.update(REFERRAL, _key(item.pk, item.sk), actions, DataItem.version == expected)
    _event(uow, action, item.sk, before, after)
    if closing:
        for name, counted in held_references(fields):
            # Referenced items cannot be deleted while refs > 0, so they exist.
            uow.update(name, counted, [DataItem.refs.add(-1)], DataItem.pk.exists())
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if REFERRAL in exc.failed:
            raise PreconditionFailedError() from exc
        raise
    item.status, item.version, item.updated_at = target.value, expected + 1, now
    referral = as_referral(item)
    if target != current:
        referral_notices.notify(referral)  # accepted or declined: the configured notices
    return referral


def _delete_once(item: DataItem) -> bool:
    """Delete ``item`` as read, releasing its counters if open; False if it changed meanwhile."""
    fields, version = data.loads(item.data), int(item.version or 1)
    is_open = S(item.status) in OPEN_REFERRAL_STATUSES
    before = {**fields, "status": item.status, "notes": as_referral(item).notes}

    uow = UnitOfWork()
    uow.delete(REFERRAL, _key(item.pk, item.sk), DataItem.pk.exists() & (DataItem.version == version))
    _event(uow, audit.Action.REFERRAL_DELETED, item.sk, before, None)
    if is_open:
        for name, counted in held_references(fields):
            uow.update(name, counted, [DataItem.refs.add(-1)], DataItem.pk.exists())
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if REFERRAL not in exc.failed:
            raise
        return False
    return True


def delete_referral(referral_id: UUID) -> None:
    """Staff only (the route requires REFERRALS_WRITE). Releases the counters if still open.

    The delete is conditioned on the version read, so the open/closed decision cannot go
    stale; a concurrent change makes it re-read and try again.
    """
    require_enabled()
    for _ in range(DELETE_ATTEMPTS):
        item = data.get(_pk(), str(referral_id))
        if item is None:
            raise NotFoundError("no such referral")
        if _delete_once(item):
            return
    raise ConflictError("the referral kept changing; retry", extra={"conflict": "referral_changed"})
