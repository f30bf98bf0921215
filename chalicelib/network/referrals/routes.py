"""/api/referrals

Staff and professionals share these routes, and a route names one permission, so the
list, read, create and update routes declare ``TENANT_READ`` (held by every member
role; it only admits the caller) and each view's first argument is
``referrals.caller(<staff permission>)``: staff holding that permission act on every
referral, a caller with ``REFERRALS_PARTICIPATE`` acts as its linked professional, and
anyone else (a customer) gets 403. The service functions take that ``Caller``, so none
runs without the check. Deleting is for staff only and declares ``REFERRALS_WRITE``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.auth.permissions import Permission
from chalicelib.entry import tenant_route
from chalicelib.http import etag, expected_version, page_body, parse_id
from chalicelib.network.referrals.errors import InvalidReferenceError, InvalidTransitionError
from chalicelib.network.referrals.models import Referral, ReferralCreate, ReferralQuery, ReferralUpdate

if TYPE_CHECKING:
    from chalicelib.network.referrals import service as referrals
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    referrals = lazy.module("chalicelib.network.referrals.service")

bp = Blueprint(__name__)
P = Permission
SHARED = " (referrals:read|write, or referrals:participate as the caller's own professional)"


def _reply(referral: Referral, status: int = 200) -> http.Reply:
    return http.Reply(referral, status, {"ETag": etag(referral.version)})


@bp.route("/api/referrals", methods=["GET"])
@tenant_route(P.TENANT_READ, operation_id="listReferrals", tag="Network",
              query=ReferralQuery, response=http.page_of(Referral), summary="List referrals" + SHARED)
def list_referrals(query: ReferralQuery) -> dict[str, Any]:
    return page_body(*referrals.list_referrals(referrals.caller(P.REFERRALS_READ), query))


@bp.route("/api/referrals", methods=["POST"])
@tenant_route(P.TENANT_READ, operation_id="createReferral", tag="Network", errors=(InvalidReferenceError,),
              body=ReferralCreate, response=Referral, status=201,
              summary="Create a referral" + SHARED)
def create_referral(body: ReferralCreate) -> http.Reply:
    return _reply(referrals.create_referral(referrals.caller(P.REFERRALS_WRITE), body), 201)


# Chalice passes path parameters by name, so the views take ``id`` as the route spells it.
@bp.route("/api/referrals/{id}", methods=["GET"])
@tenant_route(P.TENANT_READ, operation_id="getReferral", tag="Network",
              response=Referral, summary="Get a referral" + SHARED)
def get_referral(id: str) -> http.Reply:
    return _reply(referrals.get_referral(referrals.caller(P.REFERRALS_READ), parse_id(id)))


@bp.route("/api/referrals/{id}", methods=["PATCH"])
@tenant_route(P.TENANT_READ, operation_id="updateReferral", tag="Network",
              if_match="required", errors=(InvalidTransitionError,),
              body=ReferralUpdate, response=Referral,
              summary="Change a referral's status or notes" + SHARED)
def update_referral(id: str, body: ReferralUpdate) -> http.Reply:
    who, rid = referrals.caller(P.REFERRALS_WRITE), parse_id(id)
    version = expected_version(http.current_request().headers.get("if-match"), body.version)
    return _reply(referrals.update_referral(who, rid, body, version))


@bp.route("/api/referrals/{id}", methods=["DELETE"])
@tenant_route(P.REFERRALS_WRITE, operation_id="deleteReferral", tag="Network",
              status=204, summary="Delete a referral (releases its references if open)")
def delete_referral(id: str) -> None:
    referrals.delete_referral(parse_id(id))
