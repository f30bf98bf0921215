"""Usage counters: one data-table item per metered resource of the tenant (``USAGE``).

Counted resources (``COUNTED``) are enforced inside the transaction that creates or
deletes one: the create adds an Update of its counter, ``ADD used 1`` conditioned on
``used < limit`` (the effective limit read when the request started), and the delete an
``ADD used -1`` conditioned on the counter existing. So the count and the items move
together or not at all, and under any number of concurrent creates at most ``limit``
items exist (DynamoDB transactions are serializable).

Counters are created by Puts (never by an ``ADD`` on a missing item, which would miss
``tenant_id``): with zeros in the transaction that creates a tenant, and for a tenant
created before counters existed, on its first create or delete, by counting its
partition (:func:`initialise`): while a counter is missing every create and delete of
that resource fails its condition, so nothing changes between the count and the Put.
The daily reconciliation (``limits.reconciliation``) re-counts everything anyway.
"""
from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import PutError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.limits.errors import LimitExceededError
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import UnitOfWork

PROFESSIONALS = "professionals"
CUSTOMERS = "customers"
FILE_BYTES = "file_bytes"  # bytes of the tenant's objects in the assets bucket (limits.storage)
ITEM_BYTES = "item_bytes"  # estimate of the tenant's DynamoDB item bytes, set by the reconciliation
# Counted resource -> the partition whose items it counts.
COUNTED = {PROFESSIONALS: keys.PROFESSIONAL, CUSTOMERS: keys.CUSTOMER}
METERS = (PROFESSIONALS, CUSTOMERS, FILE_BYTES, ITEM_BYTES)


def key(meter: str) -> DataItem:
    return DataItem(pk=data.partition(keys.USAGE), sk=meter)


def counter_item(meter: str, used: int, reconciled_at: str | None = None) -> DataItem:
    # ``updated_at`` of a counter is when the reconciliation last set it.
    return data.new_item(pk=data.partition(keys.USAGE), sk=meter, kind=keys.USAGE, entity_id=meter, used=used,
                         updated_at=reconciled_at)


def limit_label(meter: str) -> str:
    """The label of :class:`Take`'s Update in a unit of work."""
    return f"limit:{meter}"


def counter_label(meter: str) -> str:
    """The label of :class:`GiveBack`'s Update in a unit of work."""
    return f"counter:{meter}"


def add_initial(uow: UnitOfWork) -> None:
    """Zero counters for a tenant being created (in the tenant's creation unit of work)."""
    for meter in METERS:
        uow.put(f"new_counter:{meter}", counter_item(meter, 0), DataItem.pk.does_not_exist())


@dataclass(frozen=True)
class Take:
    """The counter Update a create adds to its unit of work (its only condition on usage),
    labelled :attr:`label`: when that label failed, see :func:`refused`."""

    meter: str
    limit: int

    @property
    def label(self) -> str:
        return limit_label(self.meter)

    @property
    def item(self) -> DataItem:
        return key(self.meter)

    @property
    def actions(self) -> list[Action]:
        return [DataItem.used.add(1)]

    @property
    def condition(self) -> Condition:
        return DataItem.used < self.limit

    def add(self, uow: UnitOfWork) -> None:
        uow.update(self.label, self.item, self.actions, self.condition)


@dataclass(frozen=True)
class GiveBack:
    """The counter Update a delete adds to its unit of work, labelled :attr:`label` (it
    fails only if there is no counter: :func:`initialise`, then run the delete again)."""

    meter: str

    @property
    def label(self) -> str:
        return counter_label(self.meter)

    @property
    def item(self) -> DataItem:
        return key(self.meter)

    @property
    def actions(self) -> list[Action]:
        return [DataItem.used.add(-1)]

    @property
    def condition(self) -> Condition:
        return DataItem.used.exists()

    def add(self, uow: UnitOfWork) -> None:
        uow.update(self.label, self.item, self.actions, self.condition)


def current(meter: str) -> int | None:
    """The counter's value (a consistent read); None when the tenant has none yet."""
    data.bind()
    try:
        item = DataItem.get(data.partition(keys.USAGE), meter, consistent_read=True)
    except DataItem.DoesNotExist:
        return None
    return int(item.used or 0)


def count_items(kind: str) -> int:
    """How many items one of the tenant's partitions holds (a consistent COUNT Query)."""
    data.bind()
    return int(DataItem.count(data.partition(kind), consistent_read=True))


def initialise(meter: str) -> bool:
    """Create ``meter``'s counter from a count of its partition if it is missing; True if
    it was missing (the caller's transaction failed for that reason and may run again)."""
    if current(meter) is not None:
        return False
    item = counter_item(meter, count_items(COUNTED[meter]))
    try:
        item.save(condition=DataItem.pk.does_not_exist())
    except PutError as exc:
        if not data.condition_failed(exc):
            raise
        # Another request initialised it meanwhile, from the same count.
    return True


def refused(take: Take) -> bool:
    """After ``take``'s condition failed: True if the counter was missing (now created:
    run the transaction again); otherwise raises :class:`LimitExceededError`."""
    if initialise(take.meter):
        return True
    used = current(take.meter) or 0
    if used < take.limit:
        # The limit rose, or a slot was freed, after the condition was evaluated.
        return True
    raise LimitExceededError(take.meter, limit=take.limit, usage=used)
