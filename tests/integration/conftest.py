"""moto's server over real HTTP for integration tests (the same server ``make run`` uses)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from chalicelib.local.motoserver import IsolatingMotoServer
from tests.conftest import reset_process_state


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = IsolatingMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_env(app_env: dict[str, str], moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test's environment pointed at a freshly reset moto server (nothing bootstrapped)."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    reset_process_state()
    yield moto_endpoint
    reset_process_state()
