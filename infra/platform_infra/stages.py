"""Per-stage settings of the deployment: what differs between ``dev`` and ``prod``.

The application's own per-stage settings (issuer, JWKS URL, domain, sender) stay in
``.chalice/config.json``; infra sets ``INFRA_SET_VARIABLES`` (the names of the resources
it creates...), which that file's deployed stages do not hold.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import aws_logs as logs

from chalicelib.entry.fanout import CONSUMER_TIMEOUT_SECONDS as TENANT_JOBS_TIMEOUT_SECONDS
from chalicelib.exports.worker import WORKER_TIMEOUT_SECONDS
from chalicelib.limits.plan_catalogue import DEFAULT_PLANS
from chalicelib.ratelimit.bucket import PLATFORM_LIMITS

PROJECT_DIR = Path(__file__).resolve().parents[2]
# The Lambda runtime, pinned: `chalice package` picks the runtime, and the wheels it vendors
# (cryptography, pydantic-core), from the interpreter that synthesizes, so synthesis
# refuses any other interpreter (chalice_app.package) instead of following it.
LAMBDA_RUNTIME = "python3.11"
# Graviton: nothing in requirements.txt needs x86 (chalice vendors aarch64 wheels).
LAMBDA_ARCHITECTURE = "arm64"
CHALICE_CONFIG = PROJECT_DIR / ".chalice" / "config.json"
STAGES = ("dev", "prod")
# The functions' settings infra sets (the names of what it creates, and what must agree with
# it); a deployed stage of .chalice/config.json holds none of them (tests/infra/test_synth.py).
INFRA_SET_VARIABLES = ("REGISTRY_TABLE", "DATA_TABLE", "EXPORTS_BUCKET", "ASSETS_BUCKET", "EXPORT_RETENTION_DAYS",
                       "TENANT_DATA_ROLE_ARN", "CURSOR_SIGNING_KEY")

# SQS redrive: a message failing this many receives goes to the queue's DLQ (the local
# bootstrap uses the same figure).
MAX_RECEIVES = 3
DLQ_SUFFIX = "-dlq"
# AWS guidance for SQS event sources: visibility timeout at least six times the
# consumer function's timeout, so a retried batch is not received twice at once.
VISIBILITY_TIMEOUT_FACTOR = 6


@dataclass(frozen=True)
class PlanLimits:
    """API Gateway usage-plan figures of one tenant plan (per API key, i.e. per tenant)."""

    rate_per_second: float
    burst: int
    requests_per_day: int


# The app's default plans (chalicelib/limits/plan_catalogue.py DEFAULT_PLANS) and the super-admins'
# own bucket (chalicelib/ratelimit/bucket.py PLATFORM_LIMITS): the usage plans start
# there; a plan edited at run time is the application's to push to its usage plan.
DEFAULT_PLAN_LIMITS = {
    **{name: PlanLimits(rate_per_second=int(plan.rate_per_second), burst=plan.burst,
                        requests_per_day=plan.requests_per_day) for name, plan in DEFAULT_PLANS.items()},
    "platform": PlanLimits(rate_per_second=int(PLATFORM_LIMITS.rate_per_second), burst=PLATFORM_LIMITS.burst,
                           requests_per_day=PLATFORM_LIMITS.requests_per_day),
}


@dataclass(frozen=True)
class StageSettings:
    name: str
    # Deletion protection on tables, RETAIN on data stores and keys, longer log retention.
    protect_data: bool
    # Function timeouts in seconds, by Chalice function name; the rest use ``default_timeout``.
    default_timeout: int = 60
    timeouts: dict[str, int] = field(default_factory=dict)
    memory_mb: int = 512
    api_memory_mb: int = 1024
    # Days an export object is kept under tenants/<uuid>/exports/.
    export_retention_days: int = 7
    incomplete_upload_days: int = 1
    plan_limits: dict[str, PlanLimits] = field(default_factory=lambda: dict(DEFAULT_PLAN_LIMITS))
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    # Alarms: a 5xx rate (fraction of requests) over this, for 3 of 5 minutes.
    api_5xx_rate_threshold: float = 0.01
    # The disaster-recovery region: backup copies and tenant key replicas go there (None: no DR).
    dr_region: str | None = None
    # Days a noncurrent version of a tenant asset (a replaced or deleted logo) is kept.
    asset_noncurrent_days: int = 30

    def timeout(self, function_name: str) -> int:
        return self.timeouts.get(function_name, self.default_timeout)

    def memory(self, function_name: str) -> int:
        # The API's cold start imports pydantic, pyjwt and the Encryption SDK: more memory, more CPU.
        return self.api_memory_mb if function_name == "api_handler" else self.memory_mb


# API Gateway integrations time out at 29 s: the API function does not need longer. The
# exports worker's leases and checkpoints assume its timeout (chalicelib/exports/worker.py);
# the tenant-jobs consumer's batch of per-tenant jobs and their budgets too (chalicelib/entry/fanout.py).
_TIMEOUTS = {"api_handler": 30, "exports_worker": WORKER_TIMEOUT_SECONDS, "tenant_jobs": TENANT_JOBS_TIMEOUT_SECONDS}
_SETTINGS = {
    "dev": StageSettings(name="dev", protect_data=False, timeouts=_TIMEOUTS),
    "prod": StageSettings(name="prod", protect_data=True, timeouts=_TIMEOUTS,
                          log_retention=logs.RetentionDays.ONE_YEAR, dr_region="us-west-2"),
}


def stage_settings(name: str) -> StageSettings:
    if name not in _SETTINGS:
        raise ValueError(f"unknown stage {name!r}; one of {', '.join(STAGES)}")
    return _SETTINGS[name]


def chalice_stage_environment(name: str) -> dict[str, str]:
    """The environment ``.chalice/config.json`` gives stage ``name`` (global keys included)."""
    config = json.loads(CHALICE_CONFIG.read_text())
    if name not in config.get("stages", {}):
        raise ValueError(f".chalice/config.json has no stage {name!r}")
    return {**config.get("environment_variables", {}), **config["stages"][name].get("environment_variables", {})}
