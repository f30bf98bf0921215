"""/api/tenant/roles and /api/tenant/members: tenant admins manage who may do what."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.auth.permissions import Permission
from chalicelib.entry import tenant_route
from chalicelib.errors import ConflictError, ForbiddenError, InvitationExpiredError, PreconditionRequiredError
from chalicelib.http import ListQuery, etag, expected_version, page_body
from chalicelib.members.models import InvitationAccept, Member, MemberInvite, MemberUpdate, RoleOut, RolePut
from chalicelib.tenancy.context import current_context

if TYPE_CHECKING:
    from chalicelib.members import acceptance, roles, service
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    acceptance = lazy.module("chalicelib.members.acceptance")
    roles = lazy.module("chalicelib.members.roles")
    service = lazy.module("chalicelib.members.service")

bp = Blueprint(__name__)
P = Permission


@bp.route("/api/tenant/roles", methods=["GET"])
@tenant_route(P.ROLES_READ, operation_id="listRoles", tag="Members",
              response=http.page_of(RoleOut), summary="The tenant's roles and their permissions")
def list_roles() -> dict[str, Any]:
    return {"items": roles.list_roles(), "next_cursor": None}


@bp.route("/api/tenant/roles/{name}", methods=["PUT"])
@tenant_route(P.ROLES_WRITE, operation_id="putRole", tag="Members", if_match="optional",
              errors=(PreconditionRequiredError,),  # replacing a stored role needs If-Match
              body=RolePut, response=RoleOut,
              summary="Create a role or replace its permissions (If-Match for an existing role)")
def put_role(name: str, body: RolePut) -> http.Reply:
    if_match = http.current_request().headers.get("if-match")
    version = expected_version(if_match, None) if if_match else None
    role, created = roles.put_role(name, body.permissions, version)
    return http.Reply(RoleOut(**role), 201 if created else 200, {"ETag": etag(role["version"])})


@bp.route("/api/tenant/members", methods=["GET"])
@tenant_route(P.MEMBERS_READ, operation_id="listMembers", tag="Members",
              query=ListQuery, response=http.page_of(Member),
              summary="The tenant's members (cursor pagination)")
def list_members(query: ListQuery) -> dict[str, Any]:
    return page_body(*service.list_members(query.limit, query.cursor))


@bp.route("/api/tenant/members", methods=["POST"])
@tenant_route(P.MEMBERS_WRITE, operation_id="inviteMember", tag="Members", errors=(ConflictError,),
              body=MemberInvite, response=Member, status=201,
              summary="Invite a member by email with a role")
def invite_member(body: MemberInvite) -> http.Reply:
    member = service.invite_member(body, mail_invitation=True)
    return http.Reply(member, 201, {"ETag": etag(member.version)})


@bp.route("/api/tenant/members/{id}/invitation", methods=["POST"])
@tenant_route(P.MEMBERS_WRITE, operation_id="resendInvitation", tag="Members", errors=(ConflictError,),
              response=Member, status=202,
              summary="Invite an invited member again: a new link, the old one void (409 once it is not invited)")
def resend_invitation(id: str) -> http.Reply:
    member = acceptance.resend_invitation(id)
    return http.Reply(member, 202, {"ETag": etag(member.version)})


@bp.route("/api/tenant/members/{id}", methods=["GET"])
@tenant_route(P.MEMBERS_READ, operation_id="getMember", tag="Members",
              response=Member, summary="A member")
def get_member(id: str) -> http.Reply:
    member = service.get_member(id)
    return http.Reply(member, 200, {"ETag": etag(member.version)})


@bp.route("/api/tenant/members/{id}", methods=["PATCH"])
@tenant_route(P.MEMBERS_WRITE, operation_id="updateMember", tag="Members", if_match="required",
              body=MemberUpdate, response=Member, summary="Change a member's role or status")
def update_member(id: str, body: MemberUpdate) -> http.Reply:
    version = expected_version(http.current_request().headers.get("if-match"), body.version)
    member = service.update_member(id, body, version)
    return http.Reply(member, 200, {"ETag": etag(member.version)})


@bp.route("/api/tenant/members/{id}", methods=["DELETE"])
@tenant_route(P.MEMBERS_WRITE, operation_id="removeMember", tag="Members",
              status=204, summary="Remove a member")
def remove_member(id: str) -> None:
    service.remove_member(id)


@bp.route("/api/tenant/invitations/{id}/accept", methods=["POST"])
@tenant_route(P.TENANT_READ, operation_id="acceptInvitation", tag="Members",
              errors=(ConflictError, ForbiddenError, InvitationExpiredError), members_only=False,
              body=InvitationAccept, response=Member,
              summary="Accept an invitation (the signed-in invitee, with the token from the mail)")
def accept_invitation(id: str, body: InvitationAccept) -> http.Reply:
    principal = current_context().principal
    if principal is None:  # tenant routes always authenticate; never accept anonymously
        raise ForbiddenError("sign in to accept an invitation")
    member = acceptance.accept_invitation(id, body.token, principal)
    return http.Reply(member, 200, {"ETag": etag(member.version)})
