"""The one list of where a tenant's sealed documents live, for re-encryption and checks.

The data table may not be scanned (the guard refuses Scan), so a tenant's encrypted
items are found by querying its own partitions. Every kind whose items carry a sealed
``pii`` attribute is listed here with the kind it was sealed as; a feature that starts
sealing documents in a new partition adds it here, or a key rotation would leave that
partition under the old key (tests/security/test_encryption.py checks the list against
every item the network features write).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from chalicelib.store import data, keys

# partition kind -> the kind its documents are sealed as (the encryption context's kind).
SEALED_KINDS: dict[str, str] = {
    keys.PROFESSIONAL: keys.PROFESSIONAL,
    keys.CUSTOMER: keys.CUSTOMER,
    keys.REFERRAL: keys.REFERRAL,
    keys.TENANT_SECRET: keys.TENANT_SECRET,  # the blind-index secret, wrapped
    keys.PROVISIONING: keys.PROVISIONING,  # the admin email of the provisioning request
    keys.MEMBER: keys.MEMBER,
    keys.INTEGRATION: keys.INTEGRATION,  # provider credentials
    keys.OUTBOX: keys.OUTBOX,  # notifications waiting for a retry (recipient and text)
    keys.EXPORT: keys.EXPORT,  # the address an export's link is mailed to
}
# Partitions qualified by a category slug: one per category, holding full copies of the
# professional items (ciphertext included, sealed as PRO).
PER_CATEGORY_KINDS: dict[str, str] = {
    keys.PROFESSIONAL_CATEGORY: keys.PROFESSIONAL,
}
PAGE = 100


@dataclass(frozen=True)
class SealedPartition:
    pk: str
    sealed_as: str


def _category_slugs() -> Iterator[str]:
    cursor: str | None = None
    while True:
        page = data.query_page(data.partition(keys.CATEGORY), limit=PAGE, cursor=cursor)
        yield from (item.sk for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return


def sealed_partitions() -> list[SealedPartition]:
    """Every partition of the bound tenant that holds sealed documents, in key order."""
    found = [SealedPartition(data.partition(kind), sealed_as) for kind, sealed_as in SEALED_KINDS.items()]
    slugs = list(_category_slugs())
    for kind, sealed_as in PER_CATEGORY_KINDS.items():
        found += [SealedPartition(data.partition(kind, slug), sealed_as) for slug in slugs]
    return sorted(found, key=lambda p: p.pk)
