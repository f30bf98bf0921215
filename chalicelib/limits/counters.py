"""Usage counters: data-table items of the tenant's ``USAGE`` partition, one set per meter.

Counted resources (``COUNTED``: professionals, customers) are enforced inside the
transaction that creates or deletes one, and their counter is **sharded**: ``SHARDS``
items (sort keys ``<meter>#00`` .. ``<meter>#15``). One item per tenant was a hot item:
DynamoDB cancels a transaction that includes an item another transaction in progress
holds (``TransactionConflict``), so 50 concurrent creates in one tenant gave 1 success
and 49 409s (``tests/integration/test_hot_counters.py``, conflicts emulated on moto).

**Why the limit stays exact.** A condition can only look at the item it is on, so no
create can check the sum of the shards. Instead the limit ``L`` is divided into fixed
shares, ``share(L, i) = L // SHARDS + (1 if i < L % SHARDS else 0)`` (they add up to
``L``), and the shards keep this invariant: *no shard is below its share while another
is above its share*. Then:

* a create adds 1 to one shard ``i`` conditioned on ``used_i < share(L, i)`` and on the
  shard's ``quota`` being ``L`` (the limit the shards were balanced for). A shard below
  its share means no shard is above its share, so the total is below ``L`` and at most
  ``L`` after the create (never over, under any number of concurrent creates: each
  condition is evaluated atomically on its own shard). It adds nothing above a share.
* when every shard is at or above its share the total is at least ``L``: refused.
* a delete subtracts 1 from a shard above its share if there is one (conditioned on
  being above it), else from any shard above 0, conditioned on the shards' ``version``
  (their balancing epoch) being the one read: only :func:`_rebalance` creates a shard
  above its share, and it changes every shard's version.
* :func:`_rebalance` writes every shard in one transaction, conditioned on each one being
  as read (so no create or delete slipped in), with ``used_i = share(total, i)``: below
  the limit every shard is at or below its share, above it every shard at or above it.
  It runs when the request's limit differs from the shards' ``quota`` (a plan or
  override change), when shards are missing (a new meter set, or a tenant from before
  sharding: its single ``<meter>`` item is replaced, the total counted from its
  partition), and in the daily reconciliation.

A create picks a random shard with room; on a conflict on its shard it waits (capped
exponential backoff, full jitter) and picks again (a conflict on any other item of the
write is the client's retryable 409, as before); when its shard was full it reads the shards (one
Query) and picks among those with room. 50 concurrent creates: all succeed.

Shards are created and replaced only all together (tenant creation, rebalance), so a
set with some shards missing exists only if someone deleted items by hand; it reads as
no counter (``current`` is None, the usage report counts the partition) and the next
rebalance (a limit change, a refused create, the daily reconciliation) rewrites it.

``file_bytes`` and ``item_bytes`` stay single items (moved by S3 events and the daily
reconciliation, not by concurrent creates). Counters are created by Puts, never by an
``ADD`` on a missing item, which would miss ``tenant_id``.

Over 300 lines on purpose: the shares, the create, the delete and the rebalance keep one
invariant together (above), and are only checkable read side by side.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.limits.effective import effective_limits, plan_limits
from chalicelib.limits.errors import LimitExceededError
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import TransactionConflictError, UnitOfWork, WriteCancelledError

PROFESSIONALS = "professionals"
CUSTOMERS = "customers"
FILE_BYTES = "file_bytes"  # bytes of the tenant's objects in the assets bucket (limits.storage)
ITEM_BYTES = "item_bytes"  # estimate of the tenant's DynamoDB item bytes, set by the reconciliation
# Counted resource -> the partition whose items it counts.
COUNTED = {PROFESSIONALS: keys.PROFESSIONAL, CUSTOMERS: keys.CUSTOMER}
METERS = (PROFESSIONALS, CUSTOMERS, FILE_BYTES, ITEM_BYTES)
# Limits -> the field that holds each counted meter's limit.
LIMIT_FIELDS = {PROFESSIONALS: "max_professionals", CUSTOMERS: "max_customers"}

# Shards per counted meter. 16 spreads 50 concurrent creates to about 3 per item; a
# transaction holds 16 + 1 actions when rebalancing (DynamoDB allows 100). Changing it
# changes every share: rebalance every tenant (the reconciliation does) in the same deploy.
SHARDS = 16
ATTEMPTS = 12  # per create or delete: conflicts and full shards, each a new shard choice
_BACKOFF_SECONDS, _BACKOFF_CAP_SECONDS = 0.01, 0.3


def key(meter: str, shard: int | None = None) -> DataItem:
    """The item of ``meter`` (of shard ``shard``, default 0, for a counted meter)."""
    sk = shard_sk(meter, shard or 0) if meter in COUNTED else meter
    return DataItem(pk=data.partition(keys.USAGE), sk=sk)


def shard_sk(meter: str, shard: int) -> str:
    return f"{meter}#{shard:02d}"


def share(limit: int, shard: int) -> int:
    """Shard ``shard``'s part of ``limit`` (the parts add up to ``limit``)."""
    limit = max(0, limit)
    return limit // SHARDS + (1 if shard < limit % SHARDS else 0)


def counter_item(meter: str, used: int, reconciled_at: str | None = None) -> DataItem:
    # ``updated_at`` of a counter is when the reconciliation last set it.
    return data.new_item(pk=data.partition(keys.USAGE), sk=meter, kind=keys.USAGE, entity_id=meter, used=used,
                         updated_at=reconciled_at)


def _shard_item(meter: str, shard: int, used: int, quota: int, epoch: int, reconciled_at: str | None) -> DataItem:
    return data.new_item(pk=data.partition(keys.USAGE), sk=shard_sk(meter, shard), kind=keys.USAGE,
                         entity_id=meter, used=used, quota=quota, version=epoch, updated_at=reconciled_at)


def limit_label(meter: str) -> str:
    """The label of a create's counter Update in its unit of work."""
    return f"limit:{meter}"


def counter_label(meter: str) -> str:
    """The label of a delete's counter Update in its unit of work."""
    return f"counter:{meter}"


def add_initial(uow: UnitOfWork, plan: str) -> None:
    """Zero counters for a tenant being created on ``plan`` (in its creation unit of work)."""
    limits = plan_limits(plan)
    for meter in METERS:
        if meter in COUNTED:
            quota = int(getattr(limits, LIMIT_FIELDS[meter]))
            for shard in range(SHARDS):
                uow.put(f"new_counter:{shard_sk(meter, shard)}", _shard_item(meter, shard, 0, quota, 1, None),
                        DataItem.pk.does_not_exist())
        else:
            uow.put(f"new_counter:{meter}", counter_item(meter, 0), DataItem.pk.does_not_exist())


@dataclass(frozen=True)
class Shards:
    """One consistent read of a counted meter's items."""

    meter: str
    items: dict[int, DataItem] = field(default_factory=dict)
    legacy: DataItem | None = None  # the single counter of a tenant from before sharding

    @property
    def complete(self) -> bool:
        """Every shard present, balanced in one epoch for one quota (else: rebalance)."""
        epochs = {(item.version, item.quota) for item in self.items.values()}
        return len(self.items) == SHARDS and len(epochs) == 1 and None not in next(iter(epochs))

    @property
    def quota(self) -> int:
        return int(self.items[0].quota)

    @property
    def total(self) -> int:
        return sum(int(item.used or 0) for item in self.items.values())

    def used(self, shard: int) -> int:
        return int(self.items[shard].used or 0)


def read(meter: str) -> Shards:
    """``meter``'s shards (one strongly consistent Query of its sort keys)."""
    data.bind()
    shards: dict[int, DataItem] = {}
    legacy = None
    for item in DataItem.query(data.partition(keys.USAGE), DataItem.sk.startswith(meter), consistent_read=True):
        if item.sk == meter:
            legacy = item
        elif item.sk.startswith(f"{meter}#"):
            shards[int(item.sk.rsplit("#", 1)[1])] = item
    return Shards(meter, shards, legacy)


def total_of(meter: str, values: dict[str, DataItem]) -> int | None:
    """A counted meter's total from the items of one Query of ``USAGE`` (None: incomplete)."""
    found = Shards(meter, {s: values[shard_sk(meter, s)] for s in range(SHARDS) if shard_sk(meter, s) in values})
    return found.total if found.complete else None


def current(meter: str) -> int | None:
    """The counter's value (consistent reads); None when the tenant has none (complete) yet."""
    if meter in COUNTED:
        shards = read(meter)
        return shards.total if shards.complete else None
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


def rebalance(shards: Shards, total: int, quota: int, reconciled_at: str | None = None) -> bool:
    """Write ``shards.meter``'s shards for ``total`` under ``quota`` (``used_i = share(total, i)``)
    if they are still as read; False when something changed meanwhile (read again)."""
    epoch = max((int(item.version or 0) for item in shards.items.values()), default=0) + 1
    uow = UnitOfWork()
    for shard in range(SHARDS):
        seen = shards.items.get(shard)
        unchanged = DataItem.pk.does_not_exist() if seen is None else (
            (DataItem.version == seen.version) & (DataItem.used == seen.used))
        uow.put(f"shard:{shard}", _shard_item(shards.meter, shard, share(total, shard), quota, epoch, reconciled_at),
                unchanged)
    if shards.legacy is not None:
        uow.delete("legacy", shards.legacy)
    try:
        uow.commit()
    except (WriteCancelledError, data.ConcurrentWriteError):
        return False
    return True


def _pause(attempt: int) -> None:
    """Capped exponential backoff with full jitter (AWS Architecture Blog, "Exponential
    Backoff And Jitter"): concurrent writers that collided spread out instead of colliding again."""
    time.sleep(random.uniform(0, min(_BACKOFF_CAP_SECONDS, _BACKOFF_SECONDS * 2 ** attempt)))  # noqa: S311


def _balanced(meter: str, limit: int) -> Shards:
    """``meter``'s shards, complete and balanced for ``limit`` (rebalanced if not)."""
    for attempt in range(ATTEMPTS):
        shards = read(meter)
        if shards.complete and shards.quota == limit:
            return shards
        # Read before counting: a create or delete in between changes a shard, and the rebalance fails.
        total = shards.total if shards.complete else count_items(COUNTED[meter])
        if not rebalance(shards, total, limit):
            _pause(attempt)
    raise data.ConcurrentWriteError()


@dataclass(frozen=True)
class Take:
    """A create's counter Update on one shard, labelled :attr:`label`."""

    meter: str
    limit: int
    shard: int = 0

    @property
    def label(self) -> str:
        return limit_label(self.meter)

    @property
    def actions(self) -> list[Action]:
        return [DataItem.used.add(1)]

    @property
    def condition(self) -> Condition:
        return (DataItem.used < share(self.limit, self.shard)) & (DataItem.quota == self.limit)

    def add(self, uow: UnitOfWork) -> None:
        uow.discard(self.label)
        uow.update(self.label, key(self.meter, self.shard), self.actions, self.condition)


@dataclass(frozen=True)
class GiveBack:
    """A delete's counter Update on one shard, labelled :attr:`label`: the shard keeps its
    epoch and stays above ``floor`` (its share when it was above it, else 0)."""

    meter: str
    shard: int
    epoch: int
    floor: int = 0

    @property
    def label(self) -> str:
        return counter_label(self.meter)

    def add(self, uow: UnitOfWork) -> None:
        uow.discard(self.label)
        uow.update(self.label, key(self.meter, self.shard), [DataItem.used.add(-1)],
                   (DataItem.version == self.epoch) & (DataItem.used > self.floor))


def commit_create(uow: UnitOfWork, meter: str, limit: int) -> None:
    """Commit ``uow`` with one more ``meter`` counted, within ``limit`` (see the module doc).

    Raises :class:`LimitExceededError` at the limit, the ``WriteCancelledError`` of any
    other failed label unchanged, ``ConcurrentWriteError`` (409) when conflicts outlast
    ``ATTEMPTS``.
    """
    open_shards = [s for s in range(SHARDS) if share(limit, s) > 0]
    for attempt in range(ATTEMPTS):
        if not open_shards:
            shards = _balanced(meter, limit)
            raise LimitExceededError(meter, limit=limit, usage=shards.total)
        take = Take(meter, limit, random.choice(open_shards))  # noqa: S311 - spreading load, not a secret
        take.add(uow)
        try:
            uow.commit()
            return
        except WriteCancelledError as exc:
            if exc.failed != {take.label}:
                raise
            shards = _balanced(meter, limit)  # the shard was full, or not balanced for this limit
            open_shards = [s for s in range(SHARDS) if shards.used(s) < share(limit, s)]
        except TransactionConflictError as exc:
            if not exc.labels <= {take.label}:
                raise  # another item of the write was contended: the client's 409, as before
            _pause(attempt)
    raise data.ConcurrentWriteError()


def commit_delete(uow: UnitOfWork, meter: str) -> None:
    """Commit ``uow`` with one ``meter`` fewer counted (see the module doc).

    Raises the ``WriteCancelledError`` of any other failed label unchanged,
    ``ConcurrentWriteError`` (409) when conflicts outlast ``ATTEMPTS``.
    """
    for attempt in range(ATTEMPTS):
        shards = read(meter)
        if not shards.complete:
            _balanced(meter, int(getattr(effective_limits(), LIMIT_FIELDS[meter])))
            continue
        over = [s for s in range(SHARDS) if shards.used(s) > share(shards.quota, s)]
        choices = over or [s for s in range(SHARDS) if shards.used(s) > 0]
        if not choices:  # drift (the item exists, the counter says none): count again
            rebalance(shards, count_items(COUNTED[meter]), shards.quota)
            continue
        shard = random.choice(choices)  # noqa: S311 - spreading load, not a secret
        give_back = GiveBack(meter, shard, int(shards.items[shard].version), share(shards.quota, shard) if over else 0)
        give_back.add(uow)
        try:
            uow.commit()
            return
        except WriteCancelledError as exc:
            if exc.failed != {give_back.label}:
                raise
        except TransactionConflictError as exc:
            if not exc.labels <= {give_back.label}:
                raise
            _pause(attempt)
    raise data.ConcurrentWriteError()
