"""Configurations stored before settings were removed from the schema still load (issue 19).

``general.locale``, ``general.currency``, ``features.customer_portal`` and
``features.reviews`` were stored, versioned and served but read by no code; they are no
longer settings. A tenant's stored overrides and versions may still hold them: reading
migrates them away (``config/models.py::REMOVED_SETTINGS``), so the configuration a
client reads can be written back as it is, and an old version can still be restored.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib.config import models as schema
from chalicelib.store import keys
from tests.api.config_helpers import CONFIG, config_of, put, put_config
from tests.audit_helpers import bound, raw_items
from tests.conftest import body_of, create_tenant

LEGACY = {"general": {"locale": "fr-FR", "currency": "EUR", "timezone": "Europe/Paris"},
          "features": {"customer_portal": False, "reviews": True}}
KEPT = {"general": {"timezone": "Europe/Paris"}}


def store_as_before_the_removal(tenant: Any) -> None:
    """Rewrite the stored current overrides and every version's document to ``LEGACY``:
    what a configuration written before the removal holds."""
    for kind in (keys.CONFIG, keys.CONFIG_VERSION):
        for item in raw_items(tenant, kind):
            stored = json.loads(item.data)
            if kind == keys.CONFIG:
                stored = LEGACY
            elif stored["version"] > 1:
                stored["document"] = LEGACY
            with bound(tenant):
                item.data = json.dumps(stored)
                item.save()


def test_the_removed_settings_are_no_longer_accepted(client, tenant_a):
    refused = put(client, tenant_a, CONFIG, {"overrides": {"features": {"reviews": True}}}, 1)
    assert refused.status_code == 422
    assert config_of(client, tenant_a)["version"] == 1


def test_a_stored_configuration_with_removed_settings_loads_without_them(client, tenant_a):
    # Given a configuration stored before the removal
    put_config(client, tenant_a, KEPT, 1)
    store_as_before_the_removal(tenant_a)
    # When it is read
    body = config_of(client, tenant_a)
    # Then the removed settings are gone from the overrides and the configuration; the rest applies
    assert body["overrides"] == KEPT
    assert body["configuration"] == schema.effective(KEPT)
    assert "locale" not in body["configuration"]["general"] and "reviews" not in body["configuration"]["features"]


def test_what_was_read_can_be_written_back(client, tenant_a):
    put_config(client, tenant_a, KEPT, 1)
    store_as_before_the_removal(tenant_a)
    read = config_of(client, tenant_a)
    written = put_config(client, tenant_a, read["overrides"], read["version"])
    assert written["version"] == 3 and written["overrides"] == KEPT


def test_an_old_version_restores_without_the_removed_settings(client, tenant_a):
    # Given version 2 stored with removed settings, then version 3
    put_config(client, tenant_a, KEPT, 1)
    put_config(client, tenant_a, {"exports": {"default_format": "csv"}}, 2)
    store_as_before_the_removal(tenant_a)
    # When version 2 is read and restored
    version = body_of(client.get(f"{CONFIG}/versions/2", tenant=tenant_a))
    restored = client.request("POST", f"{CONFIG}/versions/2/restore", tenant=tenant_a, headers={"If-Match": '"3"'})
    # Then both show it as today's schema reads it
    assert version["document"] == KEPT
    assert restored.status_code == 200, restored.body
    assert body_of(restored)["overrides"] == KEPT
    stored = [json.loads(i.data) for i in raw_items(tenant_a, keys.CONFIG)]
    assert stored == [KEPT]


def test_a_tenant_created_with_removed_settings_gets_the_rest(client, aws_mock, monkeypatch):
    from chalicelib.tenants import service

    monkeypatch.setattr(service, "check_configuration", lambda configuration: None)
    tenant = create_tenant("initech", configuration=LEGACY)
    assert config_of(client, tenant)["overrides"] == KEPT


def test_the_migration_drops_only_removed_settings_and_empty_sections():
    assert schema.drop_removed_settings(LEGACY) == KEPT
    assert schema.drop_removed_settings({"features": {"reviews": True}}) == {}
    assert schema.drop_removed_settings(KEPT) == KEPT
    assert schema.drop_removed_settings({}) == {}
    assert {f"{s}.{n}" for s, n in schema.REMOVED_SETTINGS} == {
        "general.locale", "general.currency", "features.customer_portal", "features.reviews"}
    for section, name in schema.REMOVED_SETTINGS:
        assert name not in schema.Configuration.model_fields[section].default_factory.model_fields  # type: ignore[union-attr]
