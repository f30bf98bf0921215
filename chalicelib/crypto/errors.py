"""Errors of the encryption layer, mapped to problem+json by ``chalicelib.errors``."""
from __future__ import annotations

from chalicelib.errors import InternalError, ServiceUnavailableError, exception_chain

# KMS throttling clears within seconds; a client that waits this long usually succeeds.
RETRY_AFTER_SECONDS = 2


class DataIntegrityError(InternalError):
    """A sealed document that does not open for the bound tenant, kind and entity.

    A plain 500: the client learns nothing (not which check failed, not the key); the
    details go to the security log. Nothing of the document is ever returned.
    """


class KeyServiceUnavailableError(ServiceUnavailableError):
    """KMS throttled or unreachable: retryable, and nothing was written."""

    code, title = "key_service_unavailable", "Encryption key service temporarily unavailable"

    def __init__(self) -> None:
        super().__init__("retry shortly", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class UnreadableCiphertextError(Exception):
    """Internal: the codec could not open a ciphertext with the keys it was given."""


# KMS answers that mean "not now" rather than "no": worth a retry by the client.
TRANSIENT_KMS_CODES = frozenset({
    "ThrottlingException", "KMSInternalException", "DependencyTimeoutException",
    "KeyUnavailableException", "ServiceUnavailableException", "InternalFailure", "RequestTimeout",
})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from, is KMS being busy or unreachable.

    The Encryption SDK wraps KMS failures in its own errors (``GenerateKeyError from
    ClientError``), so the chain is searched, not just the outer exception.
    """
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotocoreConnectionError

    for current in exception_chain(exc):
        if isinstance(current, (BotocoreConnectionError, HTTPClientError)):
            return True
        if isinstance(current, ClientError) and current.response.get("Error", {}).get("Code") in TRANSIENT_KMS_CODES:
            return True
    return False
