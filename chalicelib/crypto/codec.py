"""What ``pii`` needs from an encryption codec, kept free of the SDK so it imports cheaply."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TenantKeys:
    """The KMS keys of one tenant: ``current`` encrypts; all of them decrypt."""

    current: str
    previous: tuple[str, ...] = ()

    @property
    def accepted(self) -> tuple[str, ...]:
        return (self.current, *self.previous)


@dataclass(frozen=True)
class Opened:
    plaintext: bytes
    context: dict[str, str]
    key_ids: frozenset[str]  # the KMS keys the message's data key is wrapped under


class Codec(Protocol):
    """Seals bytes under a tenant's current key; opens what any of its keys sealed.

    ``open`` raises ``UnreadableCiphertextError`` for a message these keys cannot open
    and ``KeyServiceUnavailableError`` when KMS is busy or unreachable.
    """

    def seal(self, keys: TenantKeys, context: dict[str, str], plaintext: bytes) -> bytes: ...

    def open(self, keys: TenantKeys, ciphertext: bytes) -> Opened: ...
