"""A tenant's ``general.timezone`` and ``general.date_format`` reach what people read of an export.

The mail with the download link names the link's expiry in the tenant's zone and date
format; the csv archive's entries carry the export's time in the tenant's zone (a zip's
DOS times have no zone, and unzip tools show them as local wall-clock times). The rows
themselves stay ISO 8601 UTC, as every API body.
"""
from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.api.config_helpers import put_config
from tests.conftest import body_of
from tests.exports_support import download, export_of, request, run_queue


def sent_mail() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends["123456789012"]["us-east-1"].sent_messages)


def exported(client: Any, tenant: Any) -> tuple[dict[str, Any], str]:
    """A completed csv export of ``tenant`` and the body of the mail that announced it."""
    before = len(sent_mail())
    response = request(client, tenant, {"format": "csv", "notify_email": "owner@acme.example"})
    assert response.status_code == 202, response.body
    run_queue()
    found = export_of(client, tenant, body_of(response)["id"])
    assert found["status"] == "completed", found
    [mail] = sent_mail()[before:]
    return found, mail.body


def at(value: str, zone: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))


@pytest.mark.parametrize("zone, date_format, pattern", [
    ("Asia/Tokyo", "DD/MM/YYYY", "%d/%m/%Y"),
    ("America/New_York", "MM/DD/YYYY", "%m/%d/%Y"),
])
def test_the_link_expiry_in_the_mail_is_in_the_tenants_zone_and_format(client, tenant_a, zone, date_format,
                                                                         pattern):
    # Given a tenant that shows dates in its own zone and format
    put_config(client, tenant_a, {"general": {"timezone": zone, "date_format": date_format}}, 1)
    # When an export completes
    found, body = exported(client, tenant_a)
    # Then the mail names the expiry as the tenant reads it
    expires = at(found["expires_at"], zone)
    assert f"until {expires.strftime(pattern)} {expires:%H:%M} {zone}" in body


def test_by_default_the_mail_shows_utc_and_iso_dates(client, tenant_a):
    found, body = exported(client, tenant_a)
    expires = at(found["expires_at"], "UTC")
    assert f"until {expires:%Y-%m-%d %H:%M} UTC" in body


def test_the_archive_entries_carry_the_export_time_in_the_tenants_zone(client, tenant_a):
    # Given a tenant nine hours ahead of UTC
    put_config(client, tenant_a, {"general": {"timezone": "Asia/Tokyo"}}, 1)
    # When its csv export is downloaded
    found, _ = exported(client, tenant_a)
    blob, _, _ = download(client, tenant_a, found["id"])
    # Then every entry's time is the request's time in Tokyo (DOS times: two-second steps)
    created = at(found["created_at"], "Asia/Tokyo").replace(tzinfo=None)
    for entry in zipfile.ZipFile(io.BytesIO(blob)).infolist():
        assert abs(datetime(*entry.date_time) - created) < timedelta(seconds=2), entry.filename
