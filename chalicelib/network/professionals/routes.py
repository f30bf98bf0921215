"""/api/professionals"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.auth.permissions import Permission
from chalicelib.entry import tenant_route
from chalicelib.errors import ConflictError
from chalicelib.http import etag, expected_version, page_body, parse_id
from chalicelib.limits.errors import LimitExceededError
from chalicelib.network.professionals.models import (
    Professional,
    ProfessionalCreate,
    ProfessionalQuery,
    ProfessionalUpdate,
)

if TYPE_CHECKING:
    from chalicelib.network.professionals import service as professionals
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    professionals = lazy.module("chalicelib.network.professionals.service")

bp = Blueprint(__name__)
P = Permission


def _reply(professional: Professional, status: int = 200) -> http.Reply:
    return http.Reply(professional, status, {"ETag": etag(professional.version)})


@bp.route("/api/professionals", methods=["GET"])
@tenant_route(P.PROFESSIONALS_READ, operation_id="listProfessionals", tag="Network",
              query=ProfessionalQuery, response=http.page_of(Professional),
              summary="List professionals (?category=<slug>)")
def list_professionals(query: ProfessionalQuery) -> dict[str, Any]:
    return page_body(*professionals.list_professionals(query))


@bp.route("/api/professionals", methods=["POST"])
@tenant_route(P.PROFESSIONALS_WRITE, operation_id="createProfessional", tag="Network",
              errors=(ConflictError, LimitExceededError),
              body=ProfessionalCreate, response=Professional, status=201,
              summary="Create a professional (409 when its email or login is taken)")
def create_professional(body: ProfessionalCreate) -> http.Reply:
    return _reply(professionals.create_professional(body), 201)


# Chalice passes path parameters by name, so the views take ``id`` as the route spells it.
@bp.route("/api/professionals/{id}", methods=["GET"])
@tenant_route(P.PROFESSIONALS_READ, operation_id="getProfessional", tag="Network",
              response=Professional, summary="Get a professional")
def get_professional(id: str) -> http.Reply:
    return _reply(professionals.get_professional(parse_id(id)))


@bp.route("/api/professionals/{id}", methods=["PATCH"])
@tenant_route(P.PROFESSIONALS_WRITE, operation_id="updateProfessional", tag="Network",
              if_match="required", errors=(ConflictError,),
              body=ProfessionalUpdate, response=Professional,
              summary="Update a professional (If-Match or version)")
def update_professional(id: str, body: ProfessionalUpdate) -> http.Reply:
    pid = parse_id(id)
    version = expected_version(http.current_request().headers.get("if-match"), body.version)
    return _reply(professionals.update_professional(pid, body, version))


@bp.route("/api/professionals/{id}", methods=["DELETE"])
@tenant_route(P.PROFESSIONALS_WRITE, operation_id="deleteProfessional", tag="Network", errors=(ConflictError,),
              status=204, summary="Delete a professional (409 while open referrals point at it)")
def delete_professional(id: str) -> None:
    professionals.delete_professional(parse_id(id))
