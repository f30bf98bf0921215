"""Invitation tokens: random per invitation, expiring, void once used or replaced.

An open invitation is ``{"nonce", "expires_at"}`` in the member's record. Its link
carries a token derived from the member id and that nonce with the tenant's blind-index
secret, so the token itself is stored nowhere and a provisioning retry can mail the same
link again. Re-inviting draws a new nonce (the old link stops working); accepting
removes the invitation (a link works once); it expires after ``INVITATION_TTL_HOURS``
(default 7 days): ``410 invitation_expired``.
"""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.crypto.blind_index import blind_index
from chalicelib.errors import ConflictError, InvitationExpiredError, NotFoundError
from chalicelib.notifications import after_commit, app_url, email_template
from chalicelib.settings import get_settings

INVITATION_PURPOSE = "member-invitation"


def new_invitation(now: datetime | None = None) -> dict[str, str]:
    issued = now or clock.now()
    expires = issued + timedelta(hours=get_settings().invitation_ttl_hours)
    return {"nonce": secrets.token_hex(16), "expires_at": clock.iso(expires)}


def token_for(member_id: str, invitation: dict[str, Any]) -> str:
    return blind_index(INVITATION_PURPOSE, f"{member_id}:{invitation['nonce']}")


def url_for(member_id: str, invitation: dict[str, Any]) -> str:
    """The link the invitee opens (the tenant's app), carrying the token it accepts with."""
    return app_url(f"/invitations/{member_id}?token={token_for(member_id, invitation)}")


def mail_invitation(member_id: str, email: str, role: str, invitation: dict[str, Any]) -> bool:
    """Send the invitation (after its write committed); False if it could not even be
    queued (logged)."""
    return after_commit("member_invitation", lambda: email_template(
        email, "member_invitation", {"role": role, "invitation_url": url_for(member_id, invitation)}))


def check(member_id: str, invitation: Any, token: str, now: datetime | None = None) -> None:
    """Refuse a token that is not the member's open, unexpired invitation.

    No open invitation (used, or the member set back to ``invited`` without a new one):
    409 ``invitation_closed``; a wrong or replaced token: 404, like an unknown member (it
    proves nothing to a guesser); past its expiry: 410."""
    if not isinstance(invitation, dict) or "nonce" not in invitation:
        raise ConflictError("this invitation can no longer be accepted", extra={"conflict": "invitation_closed"})
    if not hmac.compare_digest(token_for(member_id, invitation), token):
        raise NotFoundError("no such invitation")
    expires = datetime.fromisoformat(str(invitation["expires_at"]).replace("Z", "+00:00"))
    if (now or clock.now()) >= expires:
        raise InvitationExpiredError("this invitation has expired: ask for a new one")
