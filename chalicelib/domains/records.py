"""The registry item that holds a custom domain's AWS state, beside its reservation.

One item per domain (pk ``DOMAIN#<domain>``, sk ``CUSTOM_DOMAIN``): the tenant it serves,
its status, the ACM certificate, the CNAME that validates it and the API Gateway target
once made. While work is left (``pending_validation``, ``removing``) the item is in gsi1
under one partition, so the schedule pages through exactly those; ``ready`` and
``failed`` leave the index (a sparse index: the attributes are removed).

Every write is conditioned on the tenant and the status the writer read, so a step that
raced another (the schedule against a PUT, a removal against a certificate request) is
refused, not merged, and the caller re-reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib import clock, cursors
from chalicelib.store import keys, registry
from chalicelib.store.faults import response_code
from chalicelib.store.unit_of_work import UnitOfWork


class DomainStatus(StrEnum):
    PENDING_VALIDATION = "pending_validation"
    READY = "ready"
    FAILED = "failed"
    REMOVING = "removing"


WORK_STATUSES = frozenset({DomainStatus.PENDING_VALIDATION, DomainStatus.REMOVING})


class _WorkIndex(GlobalSecondaryIndex["CustomDomainItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class CustomDomainItem(Model):
    class Meta:
        table_name: str | None = None
        region: str | None = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    domain = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    status = UnicodeAttribute()
    # Makes ACM's idempotency token: a retried request gets the same certificate, a domain
    # added again after its removal a new one.
    generation = UnicodeAttribute()
    certificate_arn = UnicodeAttribute(null=True)
    validation_name = UnicodeAttribute(null=True)
    validation_value = UnicodeAttribute(null=True)
    target_domain_name = UnicodeAttribute(null=True)
    target_hosted_zone_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute()

    work = _WorkIndex()


registry.register_model(CustomDomainItem)


@dataclass(frozen=True)
class DomainState:
    domain: str
    tenant_id: UUID
    status: DomainStatus
    generation: str
    updated_at: str
    certificate_arn: str | None = None
    validation_name: str | None = None
    validation_value: str | None = None
    target_domain_name: str | None = None
    target_hosted_zone_id: str | None = None
    reason: str | None = None


_FIELDS = ("certificate_arn", "validation_name", "validation_value", "target_domain_name",
           "target_hosted_zone_id", "reason")


def _state(item: CustomDomainItem) -> DomainState:
    return DomainState(domain=item.domain, tenant_id=UUID(item.tenant_id), status=DomainStatus(item.status),
                       generation=item.generation, updated_at=item.updated_at,
                       **{f: getattr(item, f) for f in _FIELDS})


def _key(domain: str) -> CustomDomainItem:
    return CustomDomainItem(pk=keys.domain_reservation_pk(domain), sk=keys.CUSTOM_DOMAIN_SK)


def _work_actions(status: DomainStatus, domain: str, now: str) -> list[Any]:
    if status in WORK_STATUSES:
        return [CustomDomainItem.gsi1pk.set(keys.CUSTOM_DOMAINS_WORK_PK),
                CustomDomainItem.gsi1sk.set(keys.custom_domain_work_sk(now, domain))]
    return [CustomDomainItem.gsi1pk.remove(), CustomDomainItem.gsi1sk.remove()]


def _new_item(tenant_id: UUID, domain: str) -> CustomDomainItem:
    now = clock.now_iso()
    return CustomDomainItem(pk=keys.domain_reservation_pk(domain), sk=keys.CUSTOM_DOMAIN_SK,
                            gsi1pk=keys.CUSTOM_DOMAINS_WORK_PK, gsi1sk=keys.custom_domain_work_sk(now, domain),
                            domain=domain, tenant_id=str(tenant_id), status=DomainStatus.PENDING_VALIDATION.value,
                            generation=uuid4().hex, updated_at=now)


def label(domain: str) -> str:
    return f"custom_domain:{domain}"


def add_in(uow: UnitOfWork, tenant_id: UUID, domain: str) -> None:
    """In the tenant's transaction: a new domain, pending (its certificate not yet requested)."""
    registry.bind()
    uow.put(label(domain), _new_item(tenant_id, domain), CustomDomainItem.pk.does_not_exist())


def remove_in(uow: UnitOfWork, state: DomainState) -> None:
    """In the tenant's transaction: an unmapped domain's resources are to be removed."""
    registry.bind()
    now = clock.now_iso()
    uow.update(label(state.domain), _key(state.domain),
               [CustomDomainItem.status.set(DomainStatus.REMOVING.value), CustomDomainItem.updated_at.set(now),
                *_work_actions(DomainStatus.REMOVING, state.domain, now)],
               CustomDomainItem.tenant_id == str(state.tenant_id))


def create(tenant_id: UUID, domain: str) -> DomainState | None:
    """A pending item for a domain the tenant holds but has none (made at provisioning);
    None when one exists."""
    registry.bind()
    item = _new_item(tenant_id, domain)
    try:
        item.save(condition=CustomDomainItem.pk.does_not_exist())
    except PutError as exc:
        if response_code(exc) == "ConditionalCheckFailedException":
            return None
        raise
    return _state(item)


def get(domain: str) -> DomainState | None:
    registry.bind()
    try:
        return _state(CustomDomainItem.get(keys.domain_reservation_pk(domain), keys.CUSTOM_DOMAIN_SK,
                                           consistent_read=True))
    except CustomDomainItem.DoesNotExist:
        return None


def change(state: DomainState, *, status: DomainStatus | None = None, require_missing: str | None = None,
           **fields: str | None) -> DomainState | None:
    """Write ``fields`` (and ``status``) if the item is still ``state.status`` of the same tenant
    (with ``require_missing``: if that field is still unset, whatever the status); the new
    state, or None when the condition failed (the caller re-reads)."""
    registry.bind()
    now = clock.now_iso()
    actions: list[Any] = [CustomDomainItem.updated_at.set(now)]
    for name, value in fields.items():
        attribute = getattr(CustomDomainItem, name)
        actions.append(attribute.set(value) if value is not None else attribute.remove())
    if status is not None:
        actions += [CustomDomainItem.status.set(status.value), *_work_actions(status, state.domain, now)]
    condition = CustomDomainItem.tenant_id == str(state.tenant_id)
    if require_missing is not None:
        condition &= getattr(CustomDomainItem, require_missing).does_not_exist()
    else:
        condition &= CustomDomainItem.status == state.status.value
    item = _key(state.domain)
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if response_code(exc) == "ConditionalCheckFailedException":
            return None
        raise
    return _state(item)


def delete(state: DomainState) -> bool:
    """Forget a removed domain: only while it is ``removing`` for the same tenant and names
    the certificate the caller deleted (one recorded meanwhile would be left behind)."""
    registry.bind()
    certificate = (CustomDomainItem.certificate_arn.does_not_exist() if state.certificate_arn is None
                   else CustomDomainItem.certificate_arn == state.certificate_arn)
    try:
        _key(state.domain).delete(condition=(CustomDomainItem.tenant_id == str(state.tenant_id))
                                  & (CustomDomainItem.status == DomainStatus.REMOVING.value) & certificate)
    except DeleteError as exc:
        if response_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


_CURSOR_SCOPE = "custom-domains-work"


def _work_key(values: dict[str, str]) -> bool:
    return (set(values) == {"pk", "sk", "gsi1pk", "gsi1sk"} and values["sk"] == keys.CUSTOM_DOMAIN_SK
            and values["gsi1pk"] == keys.CUSTOM_DOMAINS_WORK_PK and values["pk"].startswith("DOMAIN#"))


def work_page(limit: int, cursor: str | None = None) -> tuple[list[DomainState], str | None]:
    """Up to ``limit`` domains with work left, oldest change first; the cursor of the rest."""
    registry.bind()
    results = CustomDomainItem.work.query(keys.CUSTOM_DOMAINS_WORK_PK, limit=limit,
                                          last_evaluated_key=cursors.decode(_CURSOR_SCOPE, cursor, _work_key))
    states = [_state(item) for item in results]
    return states, cursors.encode(_CURSOR_SCOPE, results.last_evaluated_key)
