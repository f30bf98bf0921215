"""``config/dates.py``: a tenant's dates as its people read them."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args
from uuid import uuid4

import pytest

from chalicelib.config import dates
from chalicelib.config.models import DateFormat
from chalicelib.tenancy.tenant import Tenant

MOMENT = datetime(2026, 12, 8, 9, 31, 5, tzinfo=UTC)


def tenant_with(general: dict[str, str]) -> Tenant:
    """A tenant whose creation-time configuration is ``general`` (no tenant bound: that is the source)."""
    return Tenant(id=uuid4(), slug="acme", name="Acme", display_name="Acme", status="active", plan="free",
                  created_at=MOMENT, updated_at=MOMENT, kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
                  configuration={"general": general})


@pytest.mark.parametrize("general, shown", [
    ({}, "2026-12-08 09:31 UTC"),
    ({"timezone": "Europe/Paris", "date_format": "DD.MM.YYYY"}, "08.12.2026 10:31 Europe/Paris"),
    ({"timezone": "America/Los_Angeles", "date_format": "MM/DD/YYYY"}, "12/08/2026 01:31 America/Los_Angeles"),
    ({"timezone": "Pacific/Kiritimati", "date_format": "DD/MM/YYYY"}, "08/12/2026 23:31 Pacific/Kiritimati"),
])
def test_a_moment_is_shown_in_the_tenants_zone_and_format(general, shown):
    assert dates.display_datetime(tenant_with(general), MOMENT) == shown


def test_every_date_format_of_the_schema_is_shown_differently():
    shown = {dates.display_datetime(tenant_with({"date_format": f}), MOMENT) for f in get_args(DateFormat)}
    assert len(shown) == len(get_args(DateFormat))


def test_a_naive_time_is_utc_and_local_time_keeps_the_instant():
    tenant = tenant_with({"timezone": "Asia/Tokyo"})
    local = dates.local_time(tenant, MOMENT.replace(tzinfo=None))
    assert local.utcoffset() is not None and local == MOMENT and (local.hour, local.day) == (18, 8)
