"""The API keys the app made, recorded in the registry: the authorizer's source of key values.

API Gateway's management API (``GetApiKeys``) is throttled to a few requests a second
per account, shared by every caller; a fleet of authorizers filling their caches from it
after a deploy fails each other. So every key the app makes or adopts is written here
(one registry item per key name: its id, its value and the usage plan it was put in),
and the authorizer reads a key with one ``GetItem`` on the registry, which scales with
the table. API Gateway stays the authority on what a key is: a record is written only
after the key exists there, and removed before the key is deleted.

A key value is not a credential: the REST API's key source is ``AUTHORIZER``, so a value
sent by a client is ignored; it only names the usage plan API Gateway meters a request
under. Keeping it in the platform-owned registry (encrypted at rest, never reachable with
tenant-scoped access) gives nothing away.
"""
from __future__ import annotations

from dataclasses import dataclass

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from chalicelib import clock
from chalicelib.store import keys, registry


class ApiKeyItem(Model):
    class Meta:
        table_name: str | None = None
        region: str | None = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    key_id = UnicodeAttribute()
    value = UnicodeAttribute()
    # The usage plan (plan name) the key was put in; a shared key's record says "shared".
    usage_plan = UnicodeAttribute()
    updated_at = UnicodeAttribute()


registry.register_model(ApiKeyItem)

# A tenant beyond the API key quota is recorded with the shared overflow key: its
# record must never make the tenant's reclaim delete that key.
SHARED = "shared"


@dataclass(frozen=True)
class KeyRecord:
    name: str
    key_id: str
    value: str
    usage_plan: str

    @property
    def shared(self) -> bool:
        return self.usage_plan == SHARED


def get(name: str) -> KeyRecord | None:
    registry.bind()
    try:
        item = ApiKeyItem.get(keys.api_key_pk(name), keys.API_KEY_SK)
    except DoesNotExist:
        return None
    return KeyRecord(name=name, key_id=item.key_id, value=item.value, usage_plan=item.usage_plan)


def put(record: KeyRecord) -> None:
    registry.bind()
    ApiKeyItem(pk=keys.api_key_pk(record.name), sk=keys.API_KEY_SK, key_id=record.key_id, value=record.value,
               usage_plan=record.usage_plan, updated_at=clock.now_iso()).save()


def delete(name: str) -> None:
    registry.bind()
    ApiKeyItem(pk=keys.api_key_pk(name), sk=keys.API_KEY_SK).delete()
