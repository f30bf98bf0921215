"""A tenant's members: invited by email with a role, edited and removed by tenant admins.

A member is two items written together with its audit event: the member (email sealed
in ``pii``) and its email's uniqueness item (sort key a blind index, so no address is
in a key). An invitation's link carries a token derived from the member id with the
tenant's blind-index secret, so re-sending it (a provisioning retry) sends the same link.
The invitee signs in with the identity provider and accepts with that token: the
member becomes ``active`` and is bound to the caller's subject, once.

The invitation mail (the tenant's ``member_invitation`` template) is sent after the
member's transaction commits, through ``notifications`` (the tenant's provider, its
outbox on failure), so a failed send never undoes or half-writes the member; an admin
can send it again while the member is still invited. Provisioning invites its admin
without this mail: its welcome mail carries the same invitation link.
"""
from __future__ import annotations

import hmac
from typing import Any
from uuid import UUID, uuid4

from pynamodb.transactions import TransactWrite

from chalicelib import audit
from chalicelib.clock import now_iso
from chalicelib.crypto import pii
from chalicelib.crypto.blind_index import blind_index, normalise_email
from chalicelib.errors import ConflictError, NotFoundError, PreconditionFailedError, RequestValidationError
from chalicelib.members import roles
from chalicelib.members.models import Member, MemberInvite, MemberUpdate
from chalicelib.notifications import after_commit, app_url, email_template
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem, TransactionCancelledError

EMAIL_PURPOSE = "member-email"
INVITATION_PURPOSE = "member-invitation"
PII = frozenset({"email"})
MAX_PAGE = 100


def _pk() -> str:
    return data.partition(keys.MEMBER)


def _email_key(email: str) -> DataItem:
    return DataItem(pk=data.partition(keys.MEMBER_EMAIL), sk=blind_index(EMAIL_PURPOSE, normalise_email(email)))


def _member(item: DataItem) -> Member:
    fields = {**data.loads(item.data), **pii.unseal(keys.MEMBER, str(item.entity_id), item.pii)}
    return Member(id=str(item.entity_id), email=fields["email"], role=fields["role"], status=str(item.status),
                  subject=fields.get("subject"), version=int(item.version or 1), created_at=str(item.created_at),
                  updated_at=str(item.updated_at))


def _check_role(role: str) -> None:
    if not roles.role_exists(role):
        raise RequestValidationError("no such role in this tenant",
                                     extra={"errors": [{"loc": ["body", "role"], "type": "unknown_role"}]})


def invitation_token(member_id: str) -> str:
    return blind_index(INVITATION_PURPOSE, member_id)


def invitation_url(member_id: str) -> str:
    """The link the invitee opens (the tenant's app), carrying the token it accepts with."""
    return app_url(f"/invitations/{member_id}?token={invitation_token(member_id)}")


def _mail_invitation(member: Member) -> bool:
    """Send ``member`` its invitation (after its write committed); False if it could not
    even be queued (logged)."""
    return after_commit("member_invitation", lambda: email_template(
        member.email, "member_invitation", {"role": member.role, "invitation_url": invitation_url(member.id)}))


def list_members(limit: int = MAX_PAGE, cursor: str | None = None) -> tuple[list[Member], str | None]:
    page = data.query_page(_pk(), limit=min(limit, MAX_PAGE), cursor=cursor)
    return [_member(i) for i in page.items], page.next_cursor


def _load(member_id: str) -> DataItem:
    try:
        UUID(member_id)
    except ValueError:
        raise NotFoundError("no such member") from None
    item = data.get(_pk(), member_id)
    if item is None:
        raise NotFoundError("no such member")
    return item


def get_member(member_id: str) -> Member:
    return _member(_load(member_id))


def member_by_email(email: str) -> Member | None:
    key = _email_key(email)
    pointer = data.get(key.pk, key.sk)
    return get_member(str(pointer.entity_id)) if pointer is not None else None


def invite_member(body: MemberInvite, *, mail_invitation: bool = True) -> Member:
    """A new member in status ``invited``; 409 ``member_exists`` for an email already a member.

    ``mail_invitation``: send the invitation mail once the member is stored (provisioning
    passes False: its welcome mail is the admin's invitation)."""
    _check_role(body.role)
    member_id, now = str(uuid4()), now_iso()
    email = normalise_email(body.email)
    item = data.new_item(pk=_pk(), sk=member_id, kind=keys.MEMBER, entity_id=member_id, status="invited",
                         version=1, created_at=now, updated_at=now, data=data.dumps({"role": body.role}),
                         pii=pii.seal(keys.MEMBER, member_id, {"email": email}))
    key = _email_key(email)
    pointer = data.new_item(pk=key.pk, sk=key.sk, kind=keys.MEMBER_EMAIL, entity_id=member_id)

    def build(tx: TransactWrite) -> None:
        tx.save(pointer, condition=DataItem.pk.does_not_exist())  # reason 0
        tx.save(item, condition=DataItem.pk.does_not_exist())
        audit.record(tx, audit.Action.MEMBER_ADDED, audit.Target("member", member_id),
                     changes=audit.changes(None, {"email": email, "role": body.role, "status": "invited"}, pii=PII))

    try:
        data.transact(build)
    except TransactionCancelledError as exc:
        if exc.failed(0):
            raise ConflictError("that email is already a member", extra={"conflict": "member_exists"}) from exc
        raise
    member = _member(item)
    if mail_invitation:
        _mail_invitation(member)
    return member


def resend_invitation(member_id: str) -> Member:
    """Mail an invited member its invitation again (the same link); 409 once it is not invited.

    The event (``member.invitation_sent``) is written with a check that the member is
    still invited, in one transaction, and the mail goes after it commits."""
    item = _load(member_id)
    if item.status != "invited":
        raise ConflictError("only an invited member's invitation can be sent", extra={"conflict": "not_invited"})

    def build(tx: TransactWrite) -> None:
        tx.condition_check(DataItem, item.pk, item.sk, condition=DataItem.status == "invited")  # reason 0
        audit.record(tx, audit.Action.MEMBER_INVITATION_SENT, audit.Target("member", member_id))

    try:
        data.transact(build)
    except TransactionCancelledError as exc:
        if exc.failed(0):
            raise ConflictError("only an invited member's invitation can be sent",
                                extra={"conflict": "not_invited"}) from exc
        raise
    member = _member(item)
    _mail_invitation(member)
    return member


def update_member(member_id: str, body: MemberUpdate, expected: int) -> Member:
    item = _load(member_id)
    if int(item.version or 1) != expected:
        raise PreconditionFailedError()
    if body.role is not None:
        _check_role(body.role)
    before: dict[str, Any] = {**data.loads(item.data), "status": item.status}
    after = {**before, **body.model_dump(exclude_none=True, exclude={"version"})}
    item.data, item.status = data.dumps({k: v for k, v in after.items() if k != "status"}), after["status"]
    item.version, item.updated_at = expected + 1, now_iso()
    actions: list[Any] = [DataItem.data.set(item.data), DataItem.status.set(item.status),
                          DataItem.version.set(item.version), DataItem.updated_at.set(item.updated_at)]

    def build(tx: TransactWrite) -> None:
        tx.update(item, actions=actions, condition=DataItem.version == expected)
        audit.record(tx, audit.Action.MEMBER_UPDATED, audit.Target("member", member_id),
                     changes=audit.changes(before, after, pii=PII))

    try:
        data.transact(build)
    except TransactionCancelledError as exc:
        if exc.failed(1):  # the event's Put is sent before the Update
            raise PreconditionFailedError() from exc
        raise
    return _member(item)


def accept_invitation(member_id: str, token: str, subject: str) -> Member:
    """Bind an invited member to ``subject`` and make it active; idempotent for that subject.

    A wrong token is a 404 like an unknown member (it proves nothing to a guesser); an
    invitation already accepted by someone else, or a disabled member, is a 409."""
    item = _load(member_id)
    if not hmac.compare_digest(invitation_token(member_id), token):
        raise NotFoundError("no such invitation")
    fields = data.loads(item.data)
    if item.status == "active" and fields.get("subject") == subject:
        return _member(item)
    if item.status != "invited":
        raise ConflictError("this invitation can no longer be accepted", extra={"conflict": "invitation_closed"})
    expected = int(item.version or 1)
    before = {**fields, "status": item.status}
    after = {**fields, "subject": subject, "status": "active"}
    item.data, item.status = data.dumps({**fields, "subject": subject}), "active"
    item.version, item.updated_at = expected + 1, now_iso()
    actions: list[Any] = [DataItem.data.set(item.data), DataItem.status.set(item.status),
                          DataItem.version.set(item.version), DataItem.updated_at.set(item.updated_at)]

    def build(tx: TransactWrite) -> None:
        tx.update(item, actions=actions, condition=(DataItem.version == expected) & (DataItem.status == "invited"))
        audit.record(tx, audit.Action.MEMBER_JOINED, audit.Target("member", member_id),
                     changes=audit.changes(before, after, pii=PII))

    try:
        data.transact(build)
    except TransactionCancelledError as exc:
        if exc.failed(1):  # the event's Put is sent before the Update
            raise ConflictError("the invitation changed meanwhile; try again",
                                extra={"conflict": "invitation_changed"}) from exc
        raise
    return _member(item)


def remove_member(member_id: str) -> None:
    item = _load(member_id)
    member = _member(item)
    key = _email_key(member.email)

    def build(tx: TransactWrite) -> None:
        tx.delete(DataItem(pk=item.pk, sk=item.sk), condition=DataItem.version == item.version)  # reason 0
        tx.delete(DataItem(pk=key.pk, sk=key.sk))
        audit.record(tx, audit.Action.MEMBER_REMOVED, audit.Target("member", member_id),
                     changes=audit.changes({"email": member.email, "role": member.role, "status": member.status},
                                           None, pii=PII))

    try:
        data.transact(build)
    except TransactionCancelledError as exc:
        if exc.failed(0):
            raise PreconditionFailedError() from exc
        raise
