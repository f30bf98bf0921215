"""Referral test helpers: a tenant's professionals, customers and categories as raw items.

They are written with the layout their own features use (``refs`` counters, top-level
``status``), so the referral tests depend on nothing but that layout.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import body_of

PATH = "/api/referrals"


def _bound(tenant: Any) -> Any:
    from chalicelib.tenancy.context import TenantContext, bound

    return bound(TenantContext(tenant=tenant, request_id="test"))


@dataclass
class Network:
    """One tenant's raw items: professionals, customers and a category, by id or slug."""

    tenant: Any
    pros: list[str] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    category: str = "brakes"

    def _put(self, kind: str, sk: str, status: str | None, fields: dict[str, Any], pii: dict[str, Any]) -> None:
        from chalicelib.crypto import pii as sealing
        from chalicelib.store import data

        with _bound(self.tenant):
            # PII sealed as the features seal it, so the referral notices can read the parties.
            sealed = sealing.seal(kind, sk, pii) if pii else None
            data.new_item(pk=data.partition(kind), sk=sk, kind=kind, entity_id=sk, status=status, version=1,
                          created_at="2024-01-01T00:00:00.000Z", updated_at="2024-01-01T00:00:00.000Z",
                          data=data.dumps(fields), pii=sealed, refs=0).save()

    def professional(self, status: str = "active") -> str:
        from chalicelib.store import keys

        pro_id = str(uuid.uuid4())
        self._put(keys.PROFESSIONAL, pro_id, status,
                  {"business_name": f"Shop {len(self.pros)}", "service_categories": [], "status": status,
                   "user_sub": None},
                  {"contact_name": "Pat", "email": "pat@example.com", "phone": None, "license_number": None,
                   "address": None})
        self.pros.append(pro_id)
        return pro_id

    def customer(self) -> str:
        from chalicelib.store import keys

        customer_id = str(uuid.uuid4())
        self._put(keys.CUSTOMER, customer_id, None, {"user_sub": None},
                  {"name": "Casey", "email": None, "phone": None, "notes": None, "vehicles": []})
        self.customers.append(customer_id)
        return customer_id

    def add_category(self, slug: str, status: str = "active") -> str:
        from chalicelib.store import keys

        self._put(keys.CATEGORY, slug, status, {"name": slug.title(), "active": status == "active"}, {})
        return slug

    def link(self, sub: str, pro_id: str) -> None:
        from chalicelib.store import data, keys

        with _bound(self.tenant):
            data.new_item(pk=data.partition(keys.PROFESSIONAL_USER), sk=sub, kind=keys.PROFESSIONAL_USER,
                          entity_id=pro_id, version=1).save()

    def raw(self, kind: str, sk: str) -> Any:
        from chalicelib.store import data, keys

        with _bound(self.tenant):
            return data.get(data.partition(getattr(keys, kind)), sk)

    def refs(self) -> dict[str, int]:
        """``refs`` of every professional and customer."""
        counts = {p: self.raw("PROFESSIONAL", p).refs for p in self.pros}
        counts.update({c: self.raw("CUSTOMER", c).refs for c in self.customers})
        return {k: int(v or 0) for k, v in counts.items()}

    def referral_count(self) -> int:
        from chalicelib.store import data, keys

        with _bound(self.tenant):
            return len(data.query_page(data.partition(keys.REFERRAL), limit=100).items)

    def body(self, src: int = 0, dst: int = 1, customer: int = 0, **extra: Any) -> dict[str, Any]:
        return {"from_professional_id": self.pros[src], "to_professional_id": self.pros[dst],
                "customer_id": self.customers[customer], "service_category": self.category, **extra}


def build_network(tenant: Any, pros: int = 3) -> Network:
    net = Network(tenant)
    for _ in range(pros):
        net.professional()
    net.customer()
    net.add_category(net.category)
    return net


def create(client: Any, net: Network, **kwargs: Any) -> Any:
    options = {k: kwargs.pop(k) for k in ("role", "token") if k in kwargs}
    return client.request("POST", PATH, tenant=net.tenant, body=net.body(**kwargs), **options)


def created(client: Any, net: Network, **kwargs: Any) -> dict[str, Any]:
    response = create(client, net, **kwargs)
    assert response.status_code == 201, response.body
    return body_of(response)


def patch(client: Any, net: Network, ref: dict[str, Any], version: int | None = None, **body: Any) -> Any:
    headers = {"If-Match": f'"{version or ref["version"]}"'}
    return client.request("PATCH", f"{PATH}/{ref['id']}", tenant=net.tenant, body=body, headers=headers)


def ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.body
    return {r["id"] for r in body_of(response)["items"]}
