"""What an export reads: each entity page by page through its own feature's service.

Every reader is a Query on one of the bound tenant's partitions (never a Scan), returns
records as the API shows them (PII decrypted: it is the tenant's own data) and the
cursor after the page, the tenant-bound last key that a checkpoint stores.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from chalicelib.audit.models import AuditQuery
from chalicelib.audit.queries import list_events
from chalicelib.exports.models import Entity
from chalicelib.network.categories import service as categories
from chalicelib.network.categories.models import Category
from chalicelib.network.customers import service as customers
from chalicelib.network.customers.models import Customer
from chalicelib.network.professionals import service as professionals
from chalicelib.network.professionals.models import Professional
from chalicelib.network.referrals import service as referrals
from chalicelib.network.referrals.models import Referral
from chalicelib.store import data

Page = tuple[list[dict[str, Any]], str | None]
Reader = Callable[[int, str | None], Page]


def _dump(models: list[Any]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json") for m in models]


def _paged(export_page: Callable[[int, str | None], tuple[list[Any], str | None]]) -> Reader:
    def read(limit: int, cursor: str | None) -> Page:
        items, nxt = export_page(limit, cursor)
        return _dump(items), nxt

    return read


def _audit(limit: int, cursor: str | None) -> Page:
    # Newest first, within the tenant's retention, as GET /api/tenant/audit shows them
    # (API-sized pages: the audit reader applies the retention window).
    return list_events(AuditQuery(limit=min(limit, data.MAX_PAGE), cursor=cursor))


AUDIT_COLUMNS = ["id", "at", "tenant_id", "action", "actor", "target", "changes", "details", "request_id",
                 "source_ip", "user_agent"]


def _columns(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


READERS: dict[Entity, tuple[Reader, Callable[[], list[str]]]] = {
    Entity.PROFESSIONALS: (_paged(professionals.export_page), lambda: _columns(Professional)),
    Entity.CUSTOMERS: (_paged(customers.export_page), lambda: _columns(Customer)),
    Entity.REFERRALS: (_paged(referrals.export_page), lambda: _columns(Referral)),
    Entity.SERVICE_CATEGORIES: (_paged(categories.export_page), lambda: _columns(Category)),
    Entity.AUDIT: (_audit, lambda: list(AUDIT_COLUMNS)),
}


def reader(entity: Entity) -> Reader:
    return READERS[entity][0]


def columns(entity: Entity) -> list[str]:
    return READERS[entity][1]()
