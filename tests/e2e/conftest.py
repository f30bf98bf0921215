"""The real-deployment smoke test runs only against a deployed stage; otherwise it says why.

Needed: ``E2E_STAGE_URL`` (the stack output ``ApiUrl``), ``E2E_STACK`` (the stack's name,
e.g. ``tenant-platform-dev``, whose outputs name the tenant role, table and bucket),
``E2E_ADMIN_TOKEN`` (a super-admin's JWT from the stage's identity provider), and
``E2E_AWS_PROFILE``: the AWS profile (tests/conftest.py replaces the environment's
credentials with moto's) of a role the tenant role trusts for this test (deploy with
``-c e2e_role_arn=<that role's ARN>``).
"""
from __future__ import annotations

import os
from typing import Any

REQUIRED = ("E2E_STAGE_URL", "E2E_STACK", "E2E_ADMIN_TOKEN", "E2E_AWS_PROFILE")


def missing() -> list[str]:
    return [name for name in REQUIRED if not os.environ.get(name)]


def skip_reason() -> str | None:
    absent = missing()
    if not absent:
        return None
    return ("real-deployment smoke test not run: set " + ", ".join(absent)
            + " (README, Deploy: smoke test after cdk deploy)")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # Said in every run's summary, not only with -rs: a skipped smoke test is never silent.
    reason = skip_reason()
    if reason is not None:
        terminalreporter.write_line(f"tests/e2e: {reason}", yellow=True)
