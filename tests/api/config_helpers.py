"""Helpers for the configuration and branding tests."""
from __future__ import annotations

from typing import Any

from tests.conftest import body_of

CONFIG = "/api/tenant/config"
BRANDING = "/api/tenant/branding"


def put(client: Any, tenant: Any, path: str, body: Any, version: int | None, role: str = "tenant_admin",
        **kwargs: Any) -> Any:
    headers = {"If-Match": f'"{version}"'} if version is not None else {}
    return client.request("PUT", path, tenant=tenant, role=role, body=body, headers=headers, **kwargs)


def put_config(client: Any, tenant: Any, overrides: dict[str, Any], version: int, **extra: Any) -> dict[str, Any]:
    response = put(client, tenant, CONFIG, {"overrides": overrides, **extra}, version)
    assert response.status_code == 200, response.body
    return body_of(response)


def config_of(client: Any, tenant: Any) -> dict[str, Any]:
    response = client.get(CONFIG, tenant=tenant)
    assert response.status_code == 200, response.body
    return body_of(response)


def public_branding(client: Any, headers: dict[str, str]) -> Any:
    return client.request("GET", BRANDING, role=None, headers=headers)
