"""DynamoDB saying "not now": throttling that outlasted the SDK's retries, or no connection
(an AWS endpoint that cannot be reached at all is treated the same way, whichever service).

botocore already retries these (``standard`` mode, see ``aws.py`` and pynamodb's client);
when the retries run out the request fails as a whole and nothing was written (a failed
call or a cancelled transaction writes nothing), so the client is told to retry: 503 with
``Retry-After``, like KMS (``crypto/errors.py``), never a 500 that looks like our bug.
"""
from __future__ import annotations

from chalicelib.errors import ServiceUnavailableError, exception_chain

RETRY_AFTER_SECONDS = 1
THROTTLING_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable",
})
# TransactWriteItems reports throttling per item, as a cancellation reason.
THROTTLED_CANCELLATION = "ThrottlingError"


class StoreUnavailableError(ServiceUnavailableError):
    """DynamoDB throttled or unreachable after the SDK's retries: retryable, nothing written."""

    code, title = "store_unavailable", "Storage temporarily unavailable"

    def __init__(self) -> None:
        super().__init__("retry shortly", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _unavailable(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotocoreConnectionError

    if isinstance(exc, (BotocoreConnectionError, HTTPClientError)):
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {}).get("Code")
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or [] if isinstance(r, dict)]
        return error in THROTTLING_CODES or (THROTTLED_CANCELLATION in reasons
                                              and "ConditionalCheckFailed" not in reasons)
    reasons = [getattr(r, "code", None) for r in getattr(exc, "cancellation_reasons", None) or []]
    return THROTTLED_CANCELLATION in reasons and "ConditionalCheckFailed" not in reasons


def unavailable_error(exc: BaseException) -> StoreUnavailableError | None:
    """A 503 for ``exc`` if it, or an exception it was raised from, is DynamoDB being busy or
    unreachable (pynamodb wraps botocore's errors as ``cause``; our errors chain with ``from``)."""
    if any(_unavailable(current) for current in exception_chain(exc)):
        return StoreUnavailableError()
    return None
