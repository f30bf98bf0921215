"""moto's KMS, made to decrypt under multi-Region keys.

moto (5.2.x, ``moto/kms/utils.py``) writes the key id into a fixed 36-byte field of its
own ciphertext format, the length of a UUID; a multi-Region key's id is ``mrk-`` and a
UUID, 40 bytes, so it is cut and every Decrypt under such a key is refused
(AccessDeniedException). Real KMS has no such limit. :func:`multi_region_ciphertexts`
widens the field for one test (ids shorter than 40 bytes are padded and stripped again).
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

    header_length = _WIDE_KEY_ID + utils.IV_LEN + utils.TAG_LEN
    deserialize = utils._deserialize_ciphertext_blob

    def stripped(ciphertext_blob: bytes) -> Any:
        found = deserialize(ciphertext_blob=ciphertext_blob)
        return found._replace(key_id=found.key_id.rstrip("\0"))

    monkeypatch.setattr(utils, "KEY_ID_LEN", _WIDE_KEY_ID)
    monkeypatch.setattr(utils, "HEADER_LEN", header_length)
    monkeypatch.setattr(utils, "CIPHERTEXT_HEADER_FORMAT", f">{_WIDE_KEY_ID}s{utils.IV_LEN}s{utils.TAG_LEN}s")
    monkeypatch.setattr(utils, "_deserialize_ciphertext_blob", stripped)
    yield
