"""A tenant's roles (stored per tenant, editable) and members (invited by email, with a role)."""
from typing import TYPE_CHECKING

from chalicelib import lazy

if TYPE_CHECKING:
    from chalicelib.members.acceptance import invitation_token, invitation_url
    from chalicelib.members.roles import install_default_roles, permissions_in
    from chalicelib.members.service import invite_member, list_members, member_by_email
else:
    # Re-exported on first use (cold start: importing one of this package's modules
    # must not import them all; docs/cold-start.md).
    __getattr__ = lazy.exports(__name__, {
        "chalicelib.members.acceptance": ("invitation_token", "invitation_url"),
        "chalicelib.members.roles": ("install_default_roles", "permissions_in"),
        "chalicelib.members.service": ("invite_member", "list_members", "member_by_email"),
    })

__all__ = ["install_default_roles", "invitation_token", "invitation_url", "invite_member", "list_members",
           "member_by_email", "permissions_in"]
