"""Table definitions, one place: the local bootstrap, the tests and infra read these.

registry: platform-owned items (tenants, slug and domain reservations, plans).
data: every tenant's items, pooled; every partition key starts ``T#<tenant uuid>#``
(index partition keys too), see ``store/keys.py``.
"""
from __future__ import annotations

from typing import Any

TTL_ATTRIBUTE = "expires_at"
GSI1 = "gsi1"
GSI2 = "gsi2"
GSI3 = "gsi3"


def _gsi(name: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": f"{name}pk", "KeyType": "HASH"},
            {"AttributeName": f"{name}sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def _table(name: str, indexes: list[str]) -> dict[str, Any]:
    attributes = ["pk", "sk"] + [f"{i}{part}" for i in indexes for part in ("pk", "sk")]
    spec: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attributes],
    }
    if indexes:
        spec["GlobalSecondaryIndexes"] = [_gsi(i) for i in indexes]
    return spec


def registry_table_spec(name: str) -> dict[str, Any]:
    # gsi1: every tenant under one partition, sorted by creation, for the admin listing.
    return _table(name, [GSI1])


def data_table_spec(name: str) -> dict[str, Any]:
    return _table(name, [GSI1, GSI2, GSI3])
