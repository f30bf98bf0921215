"""A branding upload through its presigned POST, over HTTP to moto's server, reaches the
tenant's storage counter through the bucket's S3 -> SQS notification and the local pump
(as under ``make run``). moto does not enforce a POST policy's size range, so the range
itself is checked in tests/api/test_storage_limits.py."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from chalicelib.config import branding
from chalicelib.limits import counters
from chalicelib.limits.models import LimitOverrides
from chalicelib.limits.service import set_overrides
from chalicelib.limits.storage import STORAGE_EVENTS_QUEUE
from chalicelib.local.bootstrap import app_queue_names, bootstrap
from chalicelib.local.pump import EventPump
from chalicelib.settings import get_settings
from chalicelib.tenancy import context
from chalicelib.tenancy.context import TenantContext
from tests.conftest import create_tenant


@pytest.fixture
def world(moto_env: str) -> Iterator[dict[str, Any]]:
    from app import app

    bootstrap(get_settings(), app_queue_names(app))
    tenant = create_tenant("uploader")
    yield {"tenant": tenant, "pump": EventPump(app, get_settings().region)}


def test_an_upload_is_counted_and_shrinks_the_next_allowance(world: dict[str, Any]) -> None:
    tenant, pump = world["tenant"], world["pump"]
    set_overrides(tenant, LimitOverrides(max_storage_bytes=50_000), None)
    image = b"\x89PNG\r\n\x1a\n" + b"\0" * 20_000
    with context.bound(TenantContext(tenant=tenant, request_id="upload")):
        upload = branding.presign_asset(branding.AssetUploadRequest(purpose="logo", content_type="image/png",
                                                                    size=len(image)))
    # A grant holds its bytes until it expires: stating the size holds no more than the file
    assert upload.max_bytes == len(image)
    response = requests.post(upload.url, data=upload.fields, files={"file": ("logo.png", image, "image/png")},
                             timeout=10)
    assert response.status_code in (200, 201, 204), response.text

    storage_queue = next(q for q in pump.queues if q.queue == STORAGE_EVENTS_QUEUE)
    while pump.pump_queue(storage_queue):
        pass

    with context.bound(TenantContext(tenant=tenant, request_id="check")):
        assert counters.current(counters.FILE_BYTES) == len(image)
        again = branding.presign_asset(branding.AssetUploadRequest(purpose="favicon", content_type="image/png"))
    assert again.max_bytes == 50_000 - len(image)
