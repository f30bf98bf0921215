"""Immutable versions of a tenant document (configuration, branding).

A write is one unit of work (``store/unit_of_work.py``): the current-version pointer (conditioned on the
version the client read, so of two writers from the same version exactly one wins),
the new version item (a full snapshot, the field-level diff, the actor, the time and
an optional comment; conditioned on not existing, never updated or deleted afterwards)
and the audit event. Version 1 is what the tenant was created with; it is written as
an item by the first write, and synthesised from the registry until then.

Stored documents are never rewritten, so a document written under an older schema is
migrated as it is read (``Document.migrate``: the current pointer, and every version's
document, which is what a restore writes again). A version's ``snapshot`` and
``changes`` stay as they were: they record what was in force then.
"""
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib import audit, lazy
from chalicelib.clock import now_iso
from chalicelib.config import models as schema
from chalicelib.errors import NotFoundError, PreconditionFailedError
from chalicelib.fields import Model
from chalicelib.store import keys
from chalicelib.tenancy.context import current_context
from chalicelib.tenancy.tenant import Tenant

if TYPE_CHECKING:
    from chalicelib.config import current
    from chalicelib.store import data, unit_of_work
    from chalicelib.store.data import DataItem
    from chalicelib.store.unit_of_work import UnitOfWork
else:
    # Deferred to the first read or write (cold start: docs/cold-start.md): branding and
    # the configuration declare their documents at import; these load the data table.
    current = lazy.module("chalicelib.config.current")
    data, unit_of_work = lazy.module("chalicelib.store.data"), lazy.module("chalicelib.store.unit_of_work")

MAX_COMMENT = 500


@dataclass(frozen=True)
class Document:
    """What differs between versioned documents."""

    kind: str
    versions_kind: str
    target_kind: str
    action: audit.Action
    initial: Callable[[Tenant], dict[str, Any]]
    snapshot: Callable[[dict[str, Any]], dict[str, Any]]
    # Flattened field names whose values the audit event redacts.
    pii: frozenset[str] = frozenset()
    # A stored document as today's schema reads it (see the module docstring).
    migrate: Callable[[dict[str, Any]], dict[str, Any]] = dict


class Version(Model):
    version: int
    at: str
    actor: dict[str, Any]
    comment: str | None = None
    restored_from: int | None = None
    # The stored document (for configuration: the overrides) and the full snapshot
    # (for configuration: the effective configuration as it was at that version).
    document: dict[str, Any]
    snapshot: dict[str, Any]
    changes: dict[str, dict[str, Any]]


def _actor() -> dict[str, Any]:
    principal = current_context().principal
    if principal is None:
        return {"type": "system", "sub": None, "platform_admin": False}
    return {"type": "user", "sub": principal.sub, "platform_admin": principal.is_platform_admin}


def state(doc: Document, tenant: Tenant) -> "tuple[int, dict[str, Any], current.Stored | None]":
    stored = current.read(doc.kind)
    if stored is None:
        return 1, doc.initial(tenant), None
    return stored.version, doc.migrate(stored.document), stored


def _initial(doc: Document, tenant: Tenant) -> Version:
    document = doc.initial(tenant)
    return Version(version=1, at=tenant.created_at.isoformat(), actor={"type": "system", "sub": None,
                   "platform_admin": False}, comment="as created with the tenant", document=document,
                   snapshot=doc.snapshot(document), changes={})


def _item(doc: Document, version: Version) -> "DataItem":
    return data.new_item(pk=data.partition(doc.versions_kind), sk=keys.version_sk(version.version),
                         kind=doc.versions_kind, entity_id=str(version.version), version=version.version,
                         created_at=version.at, data=data.dumps(version.model_dump(mode="json")))


def _version(doc: Document, item: "DataItem") -> Version:
    version = Version.model_validate(data.loads(item.data))
    return version.model_copy(update={"document": doc.migrate(version.document)})


def get_version(doc: Document, number: int) -> Version:
    tenant = current_context().tenant
    if number >= 1:
        item = data.get(data.partition(doc.versions_kind), keys.version_sk(number))
        if item is not None:
            return _version(doc, item)
        if number == 1 and current.read(doc.kind) is None:
            return _initial(doc, tenant)
    raise NotFoundError("no such version")


def list_versions(doc: Document, limit: int, cursor: str | None) -> tuple[list[Version], str | None]:
    """Newest first."""
    if current.read(doc.kind) is None:
        data.decode_cursor(cursor)  # a forged or foreign cursor is refused here too, not ignored
        return [_initial(doc, current_context().tenant)], None
    page = data.query_page(data.partition(doc.versions_kind), limit=limit, cursor=cursor, newest_first=True)
    return [_version(doc, i) for i in page.items], page.next_cursor


@dataclass(frozen=True)
class PreparedWrite:
    """A new version ready to be written: ``add`` puts it into a unit of work; if any of
    ``labels`` then fails, a concurrent write from the same version won."""

    version: Version
    add: Callable[["UnitOfWork"], None]
    labels: frozenset[str]


def prepare(doc: Document, document: dict[str, Any], expected: int, *, comment: str | None = None,
            restored_from: int | None = None) -> PreparedWrite:
    """The items of a new version of the bound tenant's ``doc``, for a transaction."""
    tenant = current_context().tenant
    version, before, pointer = state(doc, tenant)
    if expected != version:
        raise PreconditionFailedError()
    before_snapshot, after_snapshot = doc.snapshot(before), doc.snapshot(document)
    now = now_iso()
    new = Version(version=version + 1, at=now, actor=_actor(), comment=comment, restored_from=restored_from,
                  document=document, snapshot=after_snapshot, changes=schema.diff(before_snapshot, after_snapshot))
    pk, sk = current.pointer_key(doc.kind)
    pointer_item = data.new_item(pk=pk, sk=sk, kind=doc.kind, entity_id=doc.target_kind, version=new.version,
                                 created_at=pointer.item.created_at if pointer else now, updated_at=now,
                                 data=data.dumps(document))
    condition = (data.DataItem.version == version) if pointer else data.DataItem.pk.does_not_exist()
    items = ([_item(doc, _initial(doc, tenant))] if pointer is None else []) + [_item(doc, new)]
    changes = audit.changes(schema.flatten(before_snapshot), schema.flatten(after_snapshot), pii=doc.pii)

    pointer_label = f"{doc.kind}:pointer"
    item_labels = [f"{doc.kind}:{item.sk}" for item in items]

    def add(uow: "UnitOfWork") -> None:
        uow.put(pointer_label, pointer_item, condition)
        for label, item in zip(item_labels, items, strict=True):
            uow.put(label, item, data.DataItem.pk.does_not_exist())
        audit.record(uow, doc.action, audit.Target(doc.target_kind, str(new.version)), changes=changes,
                     details={"version": new.version, "restored_from": restored_from}, label=f"{doc.kind}:event")

    return PreparedWrite(new, add, frozenset({pointer_label, *item_labels}))


def write(doc: Document, document: dict[str, Any], expected: int, *, comment: str | None = None,
          restored_from: int | None = None) -> Version:
    prepared = prepare(doc, document, expected, comment=comment, restored_from=restored_from)
    uow = unit_of_work.UnitOfWork()
    prepared.add(uow)
    try:
        uow.commit()
    except unit_of_work.WriteCancelledError as exc:
        if exc.failed & prepared.labels:
            raise PreconditionFailedError() from exc  # another write from the same version won
        raise
    return prepared.version


def restore(doc: Document, number: int, expected: int) -> Version:
    """A new version whose document equals version ``number``'s."""
    old = get_version(doc, number)
    return write(doc, old.document, expected, comment=f"restored from version {number}", restored_from=number)
