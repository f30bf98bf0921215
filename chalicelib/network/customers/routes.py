"""/api/customers

Staff and customer logins share the read routes, and a route names one permission:
``CUSTOMERS_READ`` (tenant_admin, manager) and ``CUSTOMERS_READ_OWN`` (customer) have
no common holder except ``TENANT_READ``, which every member role has and which only
admits the caller. Each read view's first step is ``customers.reader()``: staff read
every customer, a customer login only its own record (another id is a 404), anyone else
(a professional) gets 403. The service's reads take that ``Reader``, so none runs
without the check. Writes are staff only and declare ``CUSTOMERS_WRITE``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.auth.permissions import Permission
from chalicelib.entry import tenant_route
from chalicelib.errors import ConflictError
from chalicelib.http import ListQuery, etag, expected_version, page_body, parse_id
from chalicelib.limits.errors import LimitExceededError
from chalicelib.network.customers.models import Customer, CustomerCreate, CustomerUpdate

if TYPE_CHECKING:
    from chalicelib.network.customers import service as customers
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    customers = lazy.module("chalicelib.network.customers.service")

bp = Blueprint(__name__)
P = Permission
SHARED = " (customers:read, or customers:read_own for the caller's own record)"


def _reply(customer: Customer, status: int = 200) -> http.Reply:
    return http.Reply(customer, status, {"ETag": etag(customer.version)})


@bp.route("/api/customers", methods=["GET"])
@tenant_route(P.TENANT_READ, operation_id="listCustomers", tag="Network",
              query=ListQuery, response=http.page_of(Customer), summary="List customers" + SHARED)
def list_customers(query: ListQuery) -> dict[str, Any]:
    return page_body(*customers.list_customers(customers.reader(), query))


@bp.route("/api/customers", methods=["POST"])
@tenant_route(P.CUSTOMERS_WRITE, operation_id="createCustomer", tag="Network",
              errors=(ConflictError, LimitExceededError),
              body=CustomerCreate, response=Customer, status=201,
              summary="Create a customer (409 when its login is taken)")
def create_customer(body: CustomerCreate) -> http.Reply:
    return _reply(customers.create_customer(body), 201)


# Chalice passes path parameters by name, so the views take ``id`` as the route spells it.
@bp.route("/api/customers/{id}", methods=["GET"])
@tenant_route(P.TENANT_READ, operation_id="getCustomer", tag="Network",
              response=Customer, summary="Get a customer" + SHARED)
def get_customer(id: str) -> http.Reply:
    who = customers.reader()
    return _reply(customers.get_customer(who, parse_id(id)))


@bp.route("/api/customers/{id}", methods=["PATCH"])
@tenant_route(P.CUSTOMERS_WRITE, operation_id="updateCustomer", tag="Network", if_match="required",
              errors=(ConflictError,), body=CustomerUpdate, response=Customer,
              summary="Update a customer (If-Match or version)")
def update_customer(id: str, body: CustomerUpdate) -> http.Reply:
    cid = parse_id(id)
    version = expected_version(http.current_request().headers.get("if-match"), body.version)
    return _reply(customers.update_customer(cid, body, version))


@bp.route("/api/customers/{id}", methods=["DELETE"])
@tenant_route(P.CUSTOMERS_WRITE, operation_id="deleteCustomer", tag="Network", errors=(ConflictError,),
              status=204, summary="Delete a customer (409 while open referrals name it)")
def delete_customer(id: str) -> None:
    customers.delete_customer(parse_id(id))
