"""The audit trail: events written with every change, per tenant and for the platform.

What other features use: :func:`record` (add an event to the unit of work that makes
the change, ``store/unit_of_work.py``), :func:`event_item` (the same event as an item,
for writers outside a unit of work), :func:`changes` (field-level before/after with PII and secrets
redacted), :class:`Action` (the vocabulary) and :class:`Target`. Lifecycle events that
belong in both trails go through :func:`record_lifecycle`.

Modules: ``actions`` (vocabulary), ``ids`` (time-ordered ids), ``events`` (document,
redaction, canonical form), ``recording``, ``policy`` (retention, chaining margin),
``trail`` (the data-table items), ``platform`` (registry items: platform trail,
anchors), ``queries``, ``chain``/``chaining``/``verification`` (tamper evidence),
``retention`` (the daily purge), ``routes``.
"""
from typing import TYPE_CHECKING

from chalicelib import lazy

if TYPE_CHECKING:
    from chalicelib.audit.actions import Action
    from chalicelib.audit.events import REDACTED, Target, changes
    from chalicelib.audit.platform import record_lifecycle, record_platform
    from chalicelib.audit.recording import NEW_EVENT, event_item, record
else:
    # Re-exported on first use (cold start: importing one of this package's modules
    # must not import them all; docs/cold-start.md).
    __getattr__ = lazy.exports(__name__, {
        "chalicelib.audit.actions": ("Action",),
        "chalicelib.audit.events": ("REDACTED", "Target", "changes"),
        "chalicelib.audit.platform": ("record_lifecycle", "record_platform"),
        "chalicelib.audit.recording": ("NEW_EVENT", "event_item", "record"),
    })

__all__ = ["NEW_EVENT", "REDACTED", "Action", "Target", "changes", "event_item", "record", "record_lifecycle",
           "record_platform"]
