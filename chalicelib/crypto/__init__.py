"""Per-tenant KMS keys and application-level encryption of sealed documents.

* ``keys``: a tenant key's lifecycle in KMS (create, alias, rotate, retire).
* ``pii``: ``seal``/``unseal`` of one JSON document per item under the bound tenant's key.
* ``inventory``: the one list of partitions whose items hold a sealed document.
* ``rotation``: moving a tenant to a new key and re-encrypting its data.

The AWS Encryption SDK is imported on first use (``envelope``), not here: it adds about
a quarter of a second to a cold start that does not need it.
"""
from chalicelib.crypto.errors import DataIntegrityError, KeyServiceUnavailableError

# The key-rotation job's queue. A stable literal, known when Chalice imports app.py to
# package it (no stage is known then): one rotation queue per account. The local
# bootstrap creates it, with its DLQ, from the queues app.py declares.
KEY_ROTATION_QUEUE = "tenant-platform-key-rotation"

__all__ = ["KEY_ROTATION_QUEUE", "DataIntegrityError", "KeyServiceUnavailableError"]
