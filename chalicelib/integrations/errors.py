"""Errors of the integrations feature."""
from __future__ import annotations

from typing import ClassVar

from chalicelib.errors import AppError, ConflictError


class ProviderError(Exception):
    """A provider refused or could not take a message. The text is ours (never a server's
    reply verbatim, which may echo what we sent) and safe to log and to show an admin."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason


class IntegrationTestFailedError(AppError):
    status: ClassVar[int] = 502
    code: ClassVar[str] = "integration_test_failed"
    title: ClassVar[str] = "The provider did not accept the test"


class NotConfiguredError(ConflictError):
    code, title = "integration_not_configured", "The tenant has not configured this integration"
