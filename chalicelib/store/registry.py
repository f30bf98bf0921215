"""The registry table: tenants and the reservations that keep slugs and domains unique.

Platform-owned. Tenant-scoped code never reaches it directly: resolution and the
tenants service do. Uniqueness of slug and domain holds under concurrent creation
because the reservation items are written with ``attribute_not_exists`` in the same
transaction as the tenant item.
"""
# Over 300 lines: every item of the registry table and each transaction on it stay together,
# so the uniqueness rules (reservations written with the tenant) read in one place.
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import clock, cursors
from chalicelib.errors import ConflictError
from chalicelib.settings import get_settings
from chalicelib.store import data, keys
from chalicelib.tenancy.tenant import Tenant, TenantStatus


class _TenantsIndex(GlobalSecondaryIndex["TenantItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class TenantItem(Model):
    class Meta:
        table_name: str | None = None
        region: str | None = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    slug = UnicodeAttribute()
    name = UnicodeAttribute()
    display_name = UnicodeAttribute()
    logo_url = UnicodeAttribute(null=True)
    primary_color = UnicodeAttribute(null=True)
    configuration = UnicodeAttribute()  # JSON text: a tenant's configuration is opaque here
    status = UnicodeAttribute()
    plan = UnicodeAttribute()
    domains = ListAttribute(of=UnicodeAttribute, default=list)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = NumberAttribute()
    kms_key_arn = UnicodeAttribute()
    previous_kms_key_arns = ListAttribute(of=UnicodeAttribute, default=list)
    provisioning_steps = ListAttribute(of=UnicodeAttribute, default=list)
    # Who runs the provisioning steps now, and until when (epoch seconds): concurrent
    # resumes would each create the demo data. A crashed holder's lease lapses.
    provisioning_lease = UnicodeAttribute(null=True)
    provisioning_lease_until = NumberAttribute(null=True)

    by_created = _TenantsIndex()


class ReservationItem(Model):
    class Meta:
        table_name: str | None = None
        region: str | None = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute()
    kind = UnicodeAttribute()


_MODELS: list[type[Model]] = [TenantItem, ReservationItem]
_bind_lock = threading.Lock()


def register_model(model: type[Model]) -> None:
    """Bind and reset another registry-table model with these (the audit trail's items)."""
    with _bind_lock:
        if model not in _MODELS:
            _MODELS.append(model)


def bind() -> None:
    """Point every registry model at the configured table (for modules that own one)."""
    _bind()


def _bind() -> None:
    """Point the models at the configured table and region (settings are read lazily)."""
    settings = get_settings()
    with _bind_lock:
        for model in _MODELS:
            if model.Meta.table_name != settings.registry_table or model.Meta.region != settings.region:
                model.Meta.table_name = settings.registry_table
                model.Meta.region = settings.region
                model._connection = None


def reset_connections() -> None:
    """Drop pynamodb's cached connections (they fix endpoint and credentials at first use)."""
    for model in _MODELS:
        model._connection = None


def _to_tenant(item: TenantItem) -> Tenant:
    return Tenant(
        id=UUID(item.tenant_id),
        slug=item.slug,
        name=item.name,
        display_name=item.display_name,
        logo_url=item.logo_url,
        primary_color=item.primary_color,
        configuration=json.loads(item.configuration),
        status=TenantStatus(item.status),
        plan=item.plan,
        domains=tuple(item.domains or ()),
        created_at=datetime.fromisoformat(item.created_at),
        updated_at=datetime.fromisoformat(item.updated_at),
        version=int(item.version),
        kms_key_arn=item.kms_key_arn,
        previous_kms_key_arns=tuple(item.previous_kms_key_arns or ()),
        provisioning_steps=tuple(item.provisioning_steps or ()),
    )


def _to_item(tenant: Tenant) -> TenantItem:
    return TenantItem(
        pk=keys.tenant_pk(tenant.id),
        sk=keys.TENANT_SK,
        gsi1pk=keys.TENANTS_INDEX_PK,
        gsi1sk=keys.tenants_index_sk(clock.iso(tenant.created_at), tenant.id),
        tenant_id=str(tenant.id),
        slug=tenant.slug,
        name=tenant.name,
        display_name=tenant.display_name,
        logo_url=tenant.logo_url,
        primary_color=tenant.primary_color,
        configuration=json.dumps(tenant.configuration, separators=(",", ":")),
        status=tenant.status.value,
        plan=tenant.plan,
        domains=list(tenant.domains),
        created_at=clock.iso(tenant.created_at),
        updated_at=clock.iso(tenant.updated_at),
        version=tenant.version,
        kms_key_arn=tenant.kms_key_arn,
        previous_kms_key_arns=list(tenant.previous_kms_key_arns),
        provisioning_steps=list(tenant.provisioning_steps),
    )


def get_tenant(tenant_id: UUID) -> Tenant | None:
    _bind()
    try:
        return _to_tenant(TenantItem.get(keys.tenant_pk(tenant_id), keys.TENANT_SK))
    except TenantItem.DoesNotExist:
        return None


def _reserved_tenant_id(pk: str) -> UUID | None:
    _bind()
    try:
        return UUID(ReservationItem.get(pk, keys.RESERVATION_SK).tenant_id)
    except ReservationItem.DoesNotExist:
        return None


def tenant_id_for_slug(slug: str) -> UUID | None:
    return _reserved_tenant_id(keys.slug_reservation_pk(slug))


def tenant_id_for_domain(domain: str) -> UUID | None:
    return _reserved_tenant_id(keys.domain_reservation_pk(domain))


def iter_tenants(status: TenantStatus | None = None) -> Iterator[Tenant]:
    """Every tenant in creation order (an index query on one platform partition)."""
    _bind()
    condition = TenantItem.status == status.value if status else None
    for item in TenantItem.by_created.query(keys.TENANTS_INDEX_PK, filter_condition=condition):
        yield _to_tenant(item)


_CURSOR_SCOPE = "tenants"
_CURSOR_ATTRIBUTES = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})


def _tenant_listing_key(values: dict[str, str]) -> bool:
    """Only the shape this listing makes: a tenant item's keys in the tenants index."""
    if set(values) != _CURSOR_ATTRIBUTES:
        return False
    try:
        tenant_id = UUID(values["pk"].removeprefix("TENANT#"))
    except ValueError:
        return False
    return (values["pk"] == keys.tenant_pk(tenant_id) and values["sk"] == keys.TENANT_SK
            and values["gsi1pk"] == keys.TENANTS_INDEX_PK and values["gsi1sk"].endswith(f"#{tenant_id}"))


def _encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    return cursors.encode(_CURSOR_SCOPE, last_key)


def _decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The listing key to resume from; only the shape this listing makes is accepted."""
    return cursors.decode(_CURSOR_SCOPE, cursor, _tenant_listing_key)


def list_tenants_page(*, limit: int, cursor: str | None, status: str | None = None, plan: str | None = None,
                      text: str | None = None) -> tuple[list[Tenant], str | None]:
    """One page of up to ``limit`` matching tenants in creation order; ``next_cursor`` is opaque.

    DynamoDB filters after reading, so pynamodb's iterator reads further index pages
    until ``limit`` tenants match (or the index ends) and resumes the cursor from the
    last tenant returned: pages are full, and a rare filter costs more reads, not
    short pages. (One platform partition: the tenant count bounds those reads.)
    """
    _bind()
    condition: Any = None
    for part in (
        TenantItem.status == status if status else None,
        TenantItem.plan == plan if plan else None,
        (TenantItem.slug.contains(text.lower()) | TenantItem.name.contains(text)
         | TenantItem.display_name.contains(text)) if text else None,
    ):
        if part is not None:
            condition = part if condition is None else condition & part
    results = TenantItem.by_created.query(keys.TENANTS_INDEX_PK, filter_condition=condition, limit=limit,
                                          last_evaluated_key=_decode_cursor(cursor))
    tenants = [_to_tenant(item) for item in results]
    return tenants, _encode_cursor(results.last_evaluated_key)


def mark_provisioning_step(tenant_id: UUID, step: str) -> None:
    """Record ``step`` as done on a tenant being provisioned (idempotent: recorded once).

    ``updated_at`` moves with each step: the stuck-provisioning job measures how long a
    tenant has made no progress, not how long ago provisioning started."""
    _bind()
    item = TenantItem(pk=keys.tenant_pk(tenant_id), sk=keys.TENANT_SK)
    try:
        item.update(actions=[TenantItem.provisioning_steps.set(
            TenantItem.provisioning_steps.append([step])),
            TenantItem.updated_at.set(clock.now_iso())],
            condition=(TenantItem.status == TenantStatus.PROVISIONING.value)
            & ~TenantItem.provisioning_steps.contains(step))
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def take_provisioning_lease(tenant_id: UUID, owner: str, seconds: int) -> bool:
    """Hold the right to run a provisioning tenant's steps; False while another holds it
    (or the tenant is not provisioning any more)."""
    _bind()
    now = int(time.time())
    item = TenantItem(pk=keys.tenant_pk(tenant_id), sk=keys.TENANT_SK)
    try:
        item.update(actions=[TenantItem.provisioning_lease.set(owner),
                             TenantItem.provisioning_lease_until.set(now + seconds)],
                    condition=(TenantItem.status == TenantStatus.PROVISIONING.value)
                    & (TenantItem.provisioning_lease_until.does_not_exist()
                       | (TenantItem.provisioning_lease_until < now)))
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def release_provisioning_lease(tenant_id: UUID, owner: str) -> None:
    """Give the lease back (a no-op if it lapsed and another holds it, or activation cleared it)."""
    _bind()
    item = TenantItem(pk=keys.tenant_pk(tenant_id), sk=keys.TENANT_SK)
    try:
        item.update(actions=[TenantItem.provisioning_lease.remove(), TenantItem.provisioning_lease_until.remove()],
                    condition=TenantItem.provisioning_lease == owner)
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def insert_tenant(tenant: Tenant, also: Callable[[TransactWrite], None] | None = None) -> None:
    """Write the tenant and its slug and domain reservations in one transaction.

    ``also`` adds Puts of its own (the audit events) after the reservations, so the
    reservations' cancellation reasons keep their places. Raises ``ConflictError``
    (``slug_taken`` or ``domain_taken``) when any is already held.
    """
    _bind()
    reservations = [(keys.slug_reservation_pk(tenant.slug), "slug")] + [
        (keys.domain_reservation_pk(d), "domain") for d in tenant.domains
    ]
    try:
        with TransactWrite(connection=data.platform_transaction_connection()) as tx:
            tx.save(_to_item(tenant), condition=TenantItem.pk.does_not_exist())
            for pk, kind in reservations:
                item = ReservationItem(pk=pk, sk=keys.RESERVATION_SK, tenant_id=str(tenant.id), kind=kind)
                tx.save(item, condition=ReservationItem.pk.does_not_exist())
            if also is not None:
                also(tx)
    except TransactWriteError as exc:
        raise _reservation_conflict(exc, reservations) from exc


def _reservation_conflict(exc: TransactWriteError, reservations: list[tuple[str, str]]) -> Exception:
    reasons = exc.cancellation_reasons or []
    for index, reason in enumerate(reasons):
        if reason is not None and reason.code == "ConditionalCheckFailed" and 0 < index <= len(reservations):
            kind = reservations[index - 1][1]
            return ConflictError(f"that {kind} is already taken", extra={"conflict": f"{kind}_taken"})
    if any(r is not None and r.code == "TransactionConflict" for r in reasons):
        return ConflictError("a concurrent request is creating the same tenant; retry")
    return exc


def update_tenant(tenant: Tenant, expected_version: int,
                  also: Callable[[TransactWrite], None] | None = None,
                  previous_domains: tuple[str, ...] | None = None) -> Tenant:
    """Replace mutable tenant fields if the stored version is ``expected_version``.

    One transaction, with whatever Puts ``also`` adds (the audit events). With
    ``previous_domains``, the domains move too: reservations of new ones are written
    (``attribute_not_exists``: ``ConflictError`` ``domain_taken``), those of removed ones
    deleted (conditioned on belonging to this tenant).
    """
    _bind()
    item = _to_item(tenant.model_copy(update={"version": expected_version + 1}))
    added = [d for d in tenant.domains if previous_domains is not None and d not in previous_domains]
    removed = [d for d in (previous_domains or ()) if d not in tenant.domains]
    actions: list[Any] = [
        TenantItem.name.set(item.name),
        TenantItem.display_name.set(item.display_name),
        TenantItem.status.set(item.status),
        TenantItem.plan.set(item.plan),
        TenantItem.configuration.set(item.configuration),
        TenantItem.updated_at.set(item.updated_at),
        TenantItem.version.set(item.version),
        TenantItem.logo_url.set(item.logo_url) if item.logo_url else TenantItem.logo_url.remove(),
        TenantItem.primary_color.set(item.primary_color)
        if item.primary_color
        else TenantItem.primary_color.remove(),
    ]
    if previous_domains is not None:
        actions.append(TenantItem.domains.set(list(tenant.domains)))  # type: ignore[arg-type]
    try:
        with TransactWrite(connection=data.platform_transaction_connection()) as tx:
            tx.update(item, actions=actions, condition=TenantItem.version == expected_version)
            for domain in removed:
                tx.delete(ReservationItem(pk=keys.domain_reservation_pk(domain), sk=keys.RESERVATION_SK),
                          condition=ReservationItem.tenant_id == str(tenant.id))
            for domain in added:
                reservation = ReservationItem(pk=keys.domain_reservation_pk(domain), sk=keys.RESERVATION_SK,
                                              tenant_id=str(tenant.id), kind="domain")
                tx.save(reservation, condition=ReservationItem.pk.does_not_exist())
            if also is not None:
                also(tx)
    except TransactWriteError as exc:
        # pynamodb sends Deletes, then Puts (reservations before events), then the Update.
        reasons = exc.cancellation_reasons or []
        taken = reasons[len(removed):len(removed) + len(added)]
        if any(r is not None and r.code == "ConditionalCheckFailed" for r in taken):
            raise ConflictError("that domain is already taken", extra={"conflict": "domain_taken"}) from exc
        if reasons and reasons[-1] is not None and reasons[-1].code == "ConditionalCheckFailed":
            raise ConflictError("the tenant was changed by someone else", extra={"conflict": "stale"}) from exc
        if any(r is not None and r.code == "TransactionConflict" for r in reasons):
            raise ConflictError("a concurrent request is changing the tenant; retry") from exc
        if any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons):
            # One of ``also``'s conditional writes (a document version another request wrote first).
            raise ConflictError("a concurrent request changed the tenant's documents; retry",
                                extra={"conflict": "concurrent_change"}) from exc
        raise
    return _to_tenant(item)


def set_tenant_keys(tenant: Tenant, *, current: str, previous: tuple[str, ...]) -> Tenant | None:
    """Move the tenant's KMS keys from what ``tenant`` says to ``current``/``previous``.

    Conditioned on the stored keys being those of ``tenant``, so two rotations cannot
    interleave; None when they were not (nothing written). Bumps the version, so a
    concurrent edit of other fields conditioned on the old version is refused, not lost.
    """
    _bind()
    item = TenantItem(pk=keys.tenant_pk(tenant.id), sk=keys.TENANT_SK)
    stored_previous = TenantItem.previous_kms_key_arns == list(tenant.previous_kms_key_arns)
    if not tenant.previous_kms_key_arns:
        stored_previous = stored_previous | TenantItem.previous_kms_key_arns.does_not_exist()
    condition = (TenantItem.kms_key_arn == tenant.kms_key_arn) & stored_previous
    actions: list[Any] = [
        TenantItem.kms_key_arn.set(current),
        TenantItem.previous_kms_key_arns.set(list(previous)),  # type: ignore[arg-type]
        TenantItem.updated_at.set(clock.now_iso()),
        TenantItem.version.add(1),
    ]
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return _to_tenant(item)
