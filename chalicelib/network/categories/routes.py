"""/api/service-categories"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.auth.permissions import Permission
from chalicelib.entry import tenant_route
from chalicelib.errors import ConflictError
from chalicelib.http import ListQuery, etag, expected_version, page_body
from chalicelib.network.categories.models import Category, CategoryCreate, CategoryUpdate

if TYPE_CHECKING:
    from chalicelib.network.categories import service as categories
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    categories = lazy.module("chalicelib.network.categories.service")

bp = Blueprint(__name__)
P = Permission


def _reply(category: Category, status: int = 200) -> http.Reply:
    return http.Reply(category, status, {"ETag": etag(category.version)})


@bp.route("/api/service-categories", methods=["GET"])
@tenant_route(P.CATEGORIES_READ, operation_id="listServiceCategories", tag="Network",
              query=ListQuery, response=http.page_of(Category), summary="List service categories")
def list_categories(query: ListQuery) -> dict[str, Any]:
    return page_body(*categories.list_categories(query.limit, query.cursor))


@bp.route("/api/service-categories", methods=["POST"])
@tenant_route(P.CATEGORIES_WRITE, operation_id="createServiceCategory", tag="Network", errors=(ConflictError,),
              body=CategoryCreate, response=Category, status=201,
              summary="Create a service category")
def create_category(body: CategoryCreate) -> http.Reply:
    return _reply(categories.create_category(body), 201)


@bp.route("/api/service-categories/{slug}", methods=["GET"])
@tenant_route(P.CATEGORIES_READ, operation_id="getServiceCategory", tag="Network",
              response=Category, summary="Get a service category")
def get_category(slug: str) -> http.Reply:
    return _reply(categories.get_category(slug))


@bp.route("/api/service-categories/{slug}", methods=["PATCH"])
@tenant_route(P.CATEGORIES_WRITE, operation_id="updateServiceCategory", tag="Network", if_match="required",
              body=CategoryUpdate, response=Category, summary="Update a service category")
def update_category(slug: str, body: CategoryUpdate) -> http.Reply:
    version = expected_version(http.current_request().headers.get("if-match"), body.version)
    return _reply(categories.update_category(slug, body, version))


@bp.route("/api/service-categories/{slug}", methods=["DELETE"])
@tenant_route(P.CATEGORIES_WRITE, operation_id="deleteServiceCategory", tag="Network", errors=(ConflictError,),
              status=204, summary="Delete a service category (409 while professionals offer it)")
def delete_category(slug: str) -> None:
    categories.delete_category(slug)
