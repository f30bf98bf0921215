"""A tenant's members: invited by email with a role, edited and removed by tenant admins.

A member is two items written together with its audit event: the member (email sealed
in ``pii``) and its email's uniqueness item (sort key a blind index, so no address is
in a key); once it accepts its invitation, a third names it by identity (issuer +
subject), which is how ``members.authority`` finds the caller's member record.
Invitations (their tokens, expiry and acceptance) are ``members.invitations``.

The tenant's ``security.allowed_member_email_domains``, when set, refuses invitations
to any other domain (422). A change of a member's role or status, or its removal, drops
the identity's cached standing in this container at once (elsewhere within the
authority cache's few seconds).
"""
from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from chalicelib import audit
from chalicelib.clock import now_iso
from chalicelib.config import effective
from chalicelib.crypto import pii
from chalicelib.crypto.blind_index import blind_index, normalise_email
from chalicelib.errors import ConflictError, NotFoundError, PreconditionFailedError, RequestValidationError
from chalicelib.members import authority, invitations, roles
from chalicelib.members.models import Member, MemberInvite, MemberUpdate
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import UnitOfWork, WriteCancelledError
from chalicelib.tenancy.context import current_context

EMAIL_PURPOSE = "member-email"
PII = frozenset({"email"})
MAX_PAGE = 100


def _pk() -> str:
    return data.partition(keys.MEMBER)


def _email_key(email: str) -> DataItem:
    return DataItem(pk=data.partition(keys.MEMBER_EMAIL), sk=blind_index(EMAIL_PURPOSE, normalise_email(email)))


def subject_key(issuer: str, subject: str) -> DataItem:
    """The item naming the member an identity is (``members.authority`` reads it)."""
    return DataItem(pk=data.partition(keys.MEMBER_SUBJECT), sk=keys.member_subject_sk(issuer, subject))


def _member(item: DataItem) -> Member:
    fields = {**data.loads(item.data), **pii.unseal(keys.MEMBER, str(item.entity_id), item.pii)}
    return Member(id=str(item.entity_id), email=fields["email"], role=fields["role"], status=str(item.status),
                  subject=fields.get("subject"), version=int(item.version or 1), created_at=str(item.created_at),
                  updated_at=str(item.updated_at))


def _check_role(role: str) -> None:
    if not roles.role_exists(role):
        raise RequestValidationError("no such role in this tenant",
                                     extra={"errors": [{"loc": ["body", "role"], "type": "unknown_role"}]})


class EmailDomainNotAllowedError(RequestValidationError):
    code, title = "email_domain_not_allowed", "Members of this network must use one of its email domains"


def check_email_domain(email: str, field: str = "email") -> None:
    """422 ``email_domain_not_allowed`` when the tenant lists its members' email domains
    (``security.allowed_member_email_domains``) and ``email``'s is neither one of them
    nor a subdomain of one."""
    allowed = effective.setting(current_context().tenant, "security", "allowed_member_email_domains")
    domain = normalise_email(email).rpartition("@")[2]
    if allowed and not any(domain == d or domain.endswith("." + d) for d in (x.lower() for x in allowed)):
        raise EmailDomainNotAllowedError(
            "this tenant only admits members with an email in its allowed domains",
            extra={"errors": [{"loc": ["body", field], "type": "email_domain_not_allowed"}]})


def list_members(limit: int = MAX_PAGE, cursor: str | None = None) -> tuple[list[Member], str | None]:
    page = data.query_page(_pk(), limit=min(limit, MAX_PAGE), cursor=cursor)
    return [_member(i) for i in page.items], page.next_cursor


def load(member_id: str) -> DataItem:
    try:
        UUID(member_id)
    except ValueError:
        raise NotFoundError("no such member") from None
    item = data.get(_pk(), member_id)
    if item is None:
        raise NotFoundError("no such member")
    return item


def get_member(member_id: str) -> Member:
    return _member(load(member_id))


def member_by_email(email: str) -> Member | None:
    key = _email_key(email)
    pointer = data.get(key.pk, key.sk)
    return get_member(str(pointer.entity_id)) if pointer is not None else None


def member_items(member_id: str, email: str, fields: dict[str, Any], status: str) -> tuple[DataItem, DataItem]:
    """A new member and its email's uniqueness item (``fields``: role, and maybe the
    identity or the open invitation)."""
    now = now_iso()
    item = data.new_item(pk=_pk(), sk=member_id, kind=keys.MEMBER, entity_id=member_id, status=status,
                         version=1, created_at=now, updated_at=now, data=data.dumps(fields),
                         pii=pii.seal(keys.MEMBER, member_id, {"email": normalise_email(email)}))
    key = _email_key(email)
    return item, data.new_item(pk=key.pk, sk=key.sk, kind=keys.MEMBER_EMAIL, entity_id=member_id)


def identity_item(member_id: str, issuer: str, subject: str) -> DataItem:
    key = subject_key(issuer, subject)
    return data.new_item(pk=key.pk, sk=key.sk, kind=keys.MEMBER_SUBJECT, entity_id=member_id)


def invite_member(body: MemberInvite, *, mail_invitation: bool = True) -> Member:
    """A new member in status ``invited`` with an open invitation; 409 ``member_exists``
    for an email already a member; 422 outside the tenant's allowed email domains.

    ``mail_invitation``: send the invitation mail once the member is stored (provisioning
    passes False: its welcome mail is the admin's invitation)."""
    _check_role(body.role)
    check_email_domain(body.email)
    member_id = str(uuid4())
    email = normalise_email(body.email)
    invitation = invitations.new_invitation()
    item, pointer = member_items(member_id, email, {"role": body.role, "invitation": invitation}, "invited")

    uow = UnitOfWork()
    uow.put("email", pointer, DataItem.pk.does_not_exist())
    uow.put("member", item, DataItem.pk.does_not_exist())
    audit.record(uow, audit.Action.MEMBER_ADDED, audit.Target("member", member_id),
                 changes=audit.changes(None, {"email": email, "role": body.role, "status": "invited"}, pii=PII))
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if "email" in exc.failed:
            raise ConflictError("that email is already a member", extra={"conflict": "member_exists"}) from exc
        raise
    member = _member(item)
    if mail_invitation:
        invitations.mail_invitation(member.id, member.email, member.role, invitation)
    return member


def enroll_member(email: str, role: str, issuer: str, subject: str) -> Member:
    """An active member bound to an identity at once, with no invitation: what a local
    sign-in (the developer CLI) or an operator's import needs. An identity already bound
    to a member keeps that member, with ``role`` and ``active``; an email already a member
    of another identity is 409 ``member_exists``."""
    _check_role(role)
    key = subject_key(issuer, subject)
    bound = data.get(key.pk, key.sk)
    if bound is not None:
        member = get_member(str(bound.entity_id))
        if (member.role, member.status) == (role, "active"):
            return member
        return update_member(member.id, MemberUpdate(role=role, status="active"), member.version)
    member_id = str(uuid4())
    item, pointer = member_items(member_id, email, {"role": role, "subject": subject, "issuer": issuer}, "active")
    identity = identity_item(member_id, issuer, subject)

    uow = UnitOfWork()
    uow.put("email", pointer, DataItem.pk.does_not_exist())
    uow.put("identity", identity, DataItem.pk.does_not_exist())
    uow.put("member", item, DataItem.pk.does_not_exist())
    audit.record(uow, audit.Action.MEMBER_ADDED, audit.Target("member", member_id),
                 changes=audit.changes(None, {"email": normalise_email(email), "role": role, "status": "active"},
                                       pii=PII))
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if "email" in exc.failed:
            raise ConflictError("that email is already a member", extra={"conflict": "member_exists"}) from exc
        raise
    authority.forget(issuer, subject)
    return _member(item)


def _forget_identity(fields: dict[str, Any]) -> None:
    if fields.get("subject") and fields.get("issuer"):
        authority.forget(str(fields["issuer"]), str(fields["subject"]))


def update_member(member_id: str, body: MemberUpdate, expected: int) -> Member:
    """A new role or status. Setting a member back to ``invited`` opens no invitation:
    re-inviting (``invitations.resend_invitation``) issues a new one."""
    item = load(member_id)
    if int(item.version or 1) != expected:
        raise PreconditionFailedError()
    if body.role is not None:
        _check_role(body.role)
    stored = data.loads(item.data)
    before: dict[str, Any] = {"role": stored["role"], "status": item.status}
    after = {**before, **body.model_dump(exclude_none=True, exclude={"version"})}
    item.data, item.status = data.dumps({**stored, "role": after["role"]}), after["status"]
    item.version, item.updated_at = expected + 1, now_iso()
    actions: list[Any] = [DataItem.data.set(item.data), DataItem.status.set(item.status),
                          DataItem.version.set(item.version), DataItem.updated_at.set(item.updated_at)]

    uow = UnitOfWork()
    uow.update("member", item, actions, DataItem.version == expected)
    audit.record(uow, audit.Action.MEMBER_UPDATED, audit.Target("member", member_id),
                 changes=audit.changes(before, after, pii=PII))
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if "member" in exc.failed:
            raise PreconditionFailedError() from exc
        raise
    _forget_identity(stored)
    return _member(item)


def remove_member(member_id: str) -> None:
    item = load(member_id)
    member = _member(item)
    stored = data.loads(item.data)
    key = _email_key(member.email)
    identity = subject_key(stored["issuer"], stored["subject"]) if stored.get("issuer") and stored.get("subject") \
        else None

    uow = UnitOfWork()
    uow.delete("member", DataItem(pk=item.pk, sk=item.sk), DataItem.version == item.version)
    uow.delete("email", DataItem(pk=key.pk, sk=key.sk))
    if identity is not None:
        uow.delete("identity", DataItem(pk=identity.pk, sk=identity.sk))
    audit.record(uow, audit.Action.MEMBER_REMOVED, audit.Target("member", member_id),
                 changes=audit.changes({"email": member.email, "role": member.role, "status": member.status},
                                       None, pii=PII))
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if "member" in exc.failed:
            raise PreconditionFailedError() from exc
        raise
    _forget_identity(stored)
