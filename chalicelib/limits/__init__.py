"""Plans, per-tenant limits and usage (REQ-MT-B007).

What other features use:

* :func:`effective_limits` (``tenant`` or the bound one): a :class:`Limits` with the
  eight limits of ``models.LIMIT_FIELDS``, the plan's values with the tenant's
  overrides; cached per process for ``effective.CACHE_TTL_SECONDS`` (30 s), dropped at
  once in the process that edits a plan or an override (:func:`invalidate`).
* :func:`plan_limits` (a plan by name, cached), :func:`list_plans`, :func:`get_plan`,
  ``DEFAULT_PLANS``.
* :class:`LimitExceededError` (403 ``limit_exceeded`` with ``resource``, ``limit``, ``usage``).
* ``counters``: the usage-counter actions a create or delete adds to its transaction.

Modules: ``models`` (pydantic), ``plan_catalogue`` (registry items, defaults),
``effective`` (cache), ``service`` (super-admin operations on plans and overrides),
``counters``, ``storage`` (file bytes, presigned allowance, S3 events),
``reconciliation`` (the daily job), ``usage`` (GET /api/tenant/usage), ``routes`` (usage)
and ``admin_routes`` (plans, a tenant's limits).
"""
from typing import TYPE_CHECKING

from chalicelib import lazy

if TYPE_CHECKING:
    from chalicelib.limits.effective import effective_limits, invalidate, plan_limits
    from chalicelib.limits.errors import LimitExceededError
    from chalicelib.limits.models import LIMIT_FIELDS, Limits, Plan
    from chalicelib.limits.plan_catalogue import DEFAULT_PLANS, get_plan, list_plans
else:
    # Re-exported on first use (cold start: importing one of this package's modules
    # must not import them all; docs/cold-start.md).
    __getattr__ = lazy.exports(__name__, {
        "chalicelib.limits.effective": ("effective_limits", "invalidate", "plan_limits"),
        "chalicelib.limits.errors": ("LimitExceededError",),
        "chalicelib.limits.models": ("LIMIT_FIELDS", "Limits", "Plan"),
        "chalicelib.limits.plan_catalogue": ("DEFAULT_PLANS", "get_plan", "list_plans"),
    })

__all__ = ["DEFAULT_PLANS", "LIMIT_FIELDS", "LimitExceededError", "Limits", "Plan", "effective_limits", "get_plan",
           "invalidate", "list_plans", "plan_limits"]
