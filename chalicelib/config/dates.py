"""How a tenant's dates are shown to people: in its ``general.timezone``, as its ``general.date_format``.

Only where a person reads a date: the export mail's link expiry, and the entry times of
a csv export's zip (DOS times carry no zone; unzip tools show them as local wall-clock
times, so they are written in the tenant's). Data stays ISO 8601 UTC everywhere (API
bodies, export rows, audit events): programs read those, and a zone there would make
them ambiguous.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args
from zoneinfo import ZoneInfo

from chalicelib.config.effective import configuration
from chalicelib.config.models import DateFormat
from chalicelib.tenancy.tenant import Tenant

# strftime patterns of the schema's date formats (a format added there fails the import).
_PATTERNS = {"YYYY-MM-DD": "%Y-%m-%d", "DD/MM/YYYY": "%d/%m/%Y", "MM/DD/YYYY": "%m/%d/%Y", "DD.MM.YYYY": "%d.%m.%Y"}
if set(_PATTERNS) != set(get_args(DateFormat)):
    raise RuntimeError("every general.date_format needs a strftime pattern")


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def local_time(tenant: Tenant, when: datetime) -> datetime:
    """``when`` (naive means UTC) on the tenant's wall clock."""
    return _aware(when).astimezone(ZoneInfo(configuration(tenant)["general"]["timezone"]))


def display_datetime(tenant: Tenant, when: datetime) -> str:
    """``when`` as the tenant's people read it, e.g. ``08.12.2026 10:31 Europe/Paris``."""
    general = configuration(tenant)["general"]
    zone = general["timezone"]
    local = _aware(when).astimezone(ZoneInfo(zone))
    return f"{local.strftime(_PATTERNS[general['date_format']])} {local:%H:%M} {zone}"
