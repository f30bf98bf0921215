"""Rate-limit tests: the real limits (not the suite's generous ones) and a clock they move."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# 2026-11-27T12:00:00Z: far from midnight, so moving a few seconds stays in one UTC day.
NOON = 1_795_780_800.0
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


@dataclass
class Clock:
    now: float = NOON

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def real_limits_with(clock: Clock) -> None:
    """The limiter with a fresh table, ``clock``, and each tenant's effective limits."""
    from chalicelib.ratelimit import service

    service.reset_state(clock)
    service.use_limits_source(None)


def limits_of(tenant: Any) -> Any:
    from chalicelib.ratelimit import service

    return service.rate_limits(tenant)


def use_limits(source: Callable[[Any], Any] | None) -> None:
    from chalicelib.ratelimit import service

    service.use_limits_source(source)


def spend(client: Any, tenant: Any, count: int, path: str = "/api/tenant") -> list[Any]:
    return [client.get(path, tenant=tenant) for _ in range(count)]


def rate_headers(response: Any) -> dict[str, str]:
    names = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After")
    lowered = {k.lower(): v for k, v in response.headers.items()}
    return {name: lowered[name.lower()] for name in names if name.lower() in lowered}


class DynamoCalls:
    """DynamoDB operations by name, seen by a hook on every botocore session."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, model: Any = None, **_: Any) -> None:
        self.names.append(getattr(model, "name", "?"))

    def writes(self) -> list[str]:
        return [n for n in self.names if n in WRITES]

