"""A tenant's roles (stored per tenant, editable) and members (invited by email, with a role)."""
from chalicelib.members.acceptance import invitation_token, invitation_url
from chalicelib.members.roles import install_default_roles, permissions_in
from chalicelib.members.service import invite_member, list_members, member_by_email

__all__ = ["install_default_roles", "invitation_token", "invitation_url", "invite_member", "list_members",
           "member_by_email", "permissions_in"]
