"""Races for the concurrency tests: every attempt in its own thread, all released at once."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_together(attempts: list[Callable[[], Any]], *, timeout: float = 120,
                 name: str = "attempt") -> tuple[list[Any], list[BaseException]]:
    """Run ``attempts`` in threads released by one barrier; (results, exceptions).

    Every outcome is recorded (an attempt's exception is data, not a test error), and a
    thread still running after ``timeout`` fails the test instead of hanging it.
    """
    barrier = threading.Barrier(len(attempts))
    lock = threading.Lock()
    results: list[Any] = []
    failures: list[BaseException] = []

    def run(attempt: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=timeout)
            result = attempt()
        except BaseException as exc:  # noqa: BLE001 - every outcome is recorded and checked
            with lock:
                failures.append(exc)
        else:
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run, args=(a,), name=f"{name}-{i}") for i, a in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), f"a {name} thread did not finish"
    return results, failures
