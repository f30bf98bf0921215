"""moto's KMS, made to decrypt under multi-Region keys.

moto (5.2.x, ``moto/kms/utils.py``) writes the key id into a fixed 36-byte field of its
own ciphertext format, the length of a UUID; a multi-Region key's id is ``mrk-`` and a
UUID, 40 bytes, so it is cut and every Decrypt under such a key is refused
(AccessDeniedException). Real KMS has no such limit. :func:`multi_region_ciphertexts`
widens the field for one test (ids shorter than 40 bytes are padded and stripped again).

moto's ReplicateKey also drops the request's ``Tags``: the replica gets its primary's
tags here, which is what crypto/keys.py asks for (the tenant_id tag), so IAM conditions
on the replica's tags see what they would in KMS.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

_WIDE_KEY_ID = 40  # "mrk-" + a 36-character UUID


@contextmanager
def multi_region_ciphertexts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto.kms import utils
    from moto.kms.models import KmsBackend, kms_backends

    header_length = _WIDE_KEY_ID + utils.IV_LEN + utils.TAG_LEN
    deserialize = utils._deserialize_ciphertext_blob

    def stripped(ciphertext_blob: bytes) -> Any:
        found = deserialize(ciphertext_blob=ciphertext_blob)
        return found._replace(key_id=found.key_id.rstrip("\0"))

    monkeypatch.setattr(utils, "KEY_ID_LEN", _WIDE_KEY_ID)
    monkeypatch.setattr(utils, "HEADER_LEN", header_length)
    monkeypatch.setattr(utils, "CIPHERTEXT_HEADER_FORMAT", f">{_WIDE_KEY_ID}s{utils.IV_LEN}s{utils.TAG_LEN}s")
    monkeypatch.setattr(utils, "_deserialize_ciphertext_blob", stripped)

    replicate = KmsBackend.replicate_key

    def tagged_replica(backend: KmsBackend, key_id: str, replica_region: str) -> Any:
        replica = replicate(backend, key_id, replica_region)
        tags = backend.tagger.list_tags_for_resource(replica.id)["Tags"]
        kms_backends[backend.account_id][replica_region].tagger.tag_resource(replica.id, tags)
        return replica

    monkeypatch.setattr(KmsBackend, "replicate_key", tagged_replica)
    yield
