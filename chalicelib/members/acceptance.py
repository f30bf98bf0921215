"""Sending and accepting invitations.

Only the invitee accepts: the caller's token must carry the invited email
(``email``), and where the provider says whether it verified it (``email_verified``),
verified; anyone else holding the link gets 403 ``invitation_email_mismatch``.
Accepting makes the member ``active``, binds it to the caller's identity (issuer +
subject, the item ``members.authority`` looks up) and closes the invitation, in one
transaction with its audit event.
"""
from __future__ import annotations

from chalicelib import audit
from chalicelib.auth.principal import Principal
from chalicelib.clock import now_iso
from chalicelib.crypto.blind_index import normalise_email
from chalicelib.errors import ConflictError, ForbiddenError
from chalicelib.members import authority, invitations, service
from chalicelib.members.models import Member
from chalicelib.store import data
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import UnitOfWork, WriteCancelledError


class InvitationEmailMismatchError(ForbiddenError):
    code, title = "invitation_email_mismatch", "This invitation is for another email"


def _open_invitation(member_id: str) -> dict[str, str]:
    item = service.load(member_id)
    invitation = data.loads(item.data).get("invitation")
    if item.status != "invited" or not isinstance(invitation, dict):
        raise ConflictError("this member has no open invitation", extra={"conflict": "not_invited"})
    return invitation


def invitation_token(member_id: str) -> str:
    """The token of the member's open invitation (what its mail carries)."""
    return invitations.token_for(member_id, _open_invitation(member_id))


def invitation_url(member_id: str) -> str:
    return invitations.url_for(member_id, _open_invitation(member_id))


def resend_invitation(member_id: str) -> Member:
    """Invite a still-invited member again: a new link (the old one stops working) and a
    new expiry; 409 ``not_invited`` once it is not invited. The new invitation, its event
    (``member.invitation_sent``) and the check that the member is still invited are one
    transaction; the mail goes after it commits."""
    item = service.load(member_id)
    if item.status != "invited":
        raise ConflictError("only an invited member's invitation can be sent", extra={"conflict": "not_invited"})
    expected = int(item.version or 1)
    invitation = invitations.new_invitation()
    item.data = data.dumps({**data.loads(item.data), "invitation": invitation})
    item.version, item.updated_at = expected + 1, now_iso()
    actions = [DataItem.data.set(item.data), DataItem.version.set(item.version),
               DataItem.updated_at.set(item.updated_at)]

    uow = UnitOfWork()
    audit.record(uow, audit.Action.MEMBER_INVITATION_SENT, audit.Target("member", member_id))
    uow.update("member", item, actions, (DataItem.version == expected) & (DataItem.status == "invited"))
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if "member" in exc.failed:
            raise ConflictError("the member changed meanwhile; try again",
                                extra={"conflict": "member_changed"}) from exc
        raise
    member = service.get_member(member_id)
    invitations.mail_invitation(member.id, member.email, member.role, invitation)
    return member


def _check_invitee(principal: Principal, email: str) -> None:
    verified = principal.email_verified is not False
    if principal.email is None or not verified or normalise_email(principal.email) != normalise_email(email):
        raise InvitationEmailMismatchError("sign in with the verified email this invitation was sent to")


def accept_invitation(member_id: str, token: str, principal: Principal) -> Member:
    """Make the invited member active and bound to ``principal``'s identity, once."""
    item = service.load(member_id)
    fields = data.loads(item.data)
    if item.status != "invited":
        raise ConflictError("this invitation can no longer be accepted", extra={"conflict": "invitation_closed"})
    invitations.check(member_id, fields.get("invitation"), token)
    member = service.get_member(member_id)
    _check_invitee(principal, member.email)
    expected = int(item.version or 1)
    kept = {k: v for k, v in fields.items() if k != "invitation"}
    after = {**kept, "subject": principal.sub, "issuer": principal.issuer}
    item.data, item.status = data.dumps(after), "active"
    item.version, item.updated_at = expected + 1, now_iso()
    actions = [DataItem.data.set(item.data), DataItem.status.set(item.status),
               DataItem.version.set(item.version), DataItem.updated_at.set(item.updated_at)]
    identity = service.identity_item(member_id, principal.issuer, principal.sub)

    uow = UnitOfWork()
    uow.put("identity", identity, DataItem.pk.does_not_exist())
    audit.record(uow, audit.Action.MEMBER_JOINED, audit.Target("member", member_id),
                 changes=audit.changes({"role": kept["role"], "status": "invited"},
                                       {"role": kept["role"], "status": "active", "subject": principal.sub},
                                       pii=frozenset()))
    uow.update("member", item, actions, (DataItem.version == expected) & (DataItem.status == "invited"))
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if "identity" in exc.failed:
            raise ConflictError("you are already a member of this tenant",
                                extra={"conflict": "already_a_member"}) from exc
        if "member" in exc.failed:
            raise ConflictError("the invitation changed meanwhile; try again",
                                extra={"conflict": "invitation_changed"}) from exc
        raise
    authority.forget(principal.issuer, principal.sub)
    return service.get_member(member_id)
