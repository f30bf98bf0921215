"""What every provider offers: send an email or a text, or nothing (validate only)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    body: str
    # The sender's name when the provider sets none (the tenant's display name) and where
    # replies go (its support email); the From address is always the provider's own.
    from_name: str | None = None
    reply_to: str | None = None


class EmailProvider(ABC):
    name: str

    @abstractmethod
    def send(self, message: EmailMessage) -> str:
        """Send ``message``; the provider's message id. ``ProviderError`` if not accepted."""


class SmsProvider(ABC):
    name: str

    @abstractmethod
    def send(self, to: str, body: str) -> str:
        """Send a text to ``to`` (E.164); the provider's message id, or ``ProviderError``."""
