"""Operator and developer commands: ``.venv/bin/python -m chalicelib.cli --help``.

token      sign a user in through the local Cognito pool (creating the user and its
           membership) and print its ID or access token; --dev-key: a JWT signed with
           the local development key instead (local stage only)
bootstrap  create the local AWS resources (against a running `make run`)
seed       create the demo tenant (against a running `make run`)
schedule   list the app's scheduled handlers, or run one now
usage-plans sync   repair tenant API keys (any stage): every live tenant's key in the usage
           plan of its limits and recorded, deleted tenants' keys reclaimed, keys moved
           off and then deleting the per-tenant usage plans of earlier versions
restore-tenant  put one tenant's data back from a restored copy of the data table (any
           stage; docs/runbook-backup-and-dr.md)
"""
# Over 300 lines: one argparse command line whose subcommands are thin calls into the app;
# splitting it would scatter the operator's one entry point.
from __future__ import annotations

import argparse
import os
import socket
import sys
import uuid
from typing import Any

from chalicelib import metrics
from chalicelib.local.environment import DEFAULT_AWS_PORT, apply_local_environment, stage_environment


class CliError(RuntimeError):
    pass


def _require_local_stage() -> None:
    stage = os.environ.get("STAGE")
    if stage not in (None, "", "local"):
        raise CliError(f"refused: developer commands run only on the local stage (STAGE={stage})")


def _local_aws_port() -> int:
    port = int(os.environ.get("LOCAL_AWS_PORT", DEFAULT_AWS_PORT))
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex(("127.0.0.1", port)) != 0:
            raise CliError(f"local AWS is not running on 127.0.0.1:{port}: start it with `make run` first")
    return port


def _tenant_id(reference: str) -> str:
    try:
        return str(uuid.UUID(reference))
    except ValueError:
        pass
    apply_local_environment(_local_aws_port())
    # Deferred: each command imports only what it runs, after the local environment is set (bootstrap alone is ~1.2 s).
    from chalicelib.settings import reset_settings
    from chalicelib.store import registry

    reset_settings()
    found = registry.tenant_id_for_slug(reference.lower())
    if found is None:
        raise CliError(f"no tenant with slug {reference!r} in the local registry")
    return str(found)


def _local_cognito() -> tuple[Any, Any]:
    """(boto3 Cognito client, the local pool) of the running `make run`."""
    port = _local_aws_port()
    apply_local_environment(port)
    # Deferred: boto3 and the identity helpers only once the local environment is set.
    import boto3

    from chalicelib.local.identity import find_pool

    cognito = boto3.client("cognito-idp", endpoint_url=f"http://127.0.0.1:{port}")
    pool = find_pool(cognito, f"http://127.0.0.1:{port}")
    if pool is None:
        raise CliError("the local Cognito pool is missing: is this `make run` current?")
    return cognito, pool


def _slug(tenant_id: str) -> str:
    # Deferred: each command imports only what it runs, after the local environment is set (bootstrap alone is ~1.2 s).
    from chalicelib.settings import reset_settings
    from chalicelib.store import registry

    reset_settings()
    tenant = registry.get_tenant(uuid.UUID(tenant_id))
    if tenant is None:
        raise CliError(f"no tenant {tenant_id} in the local registry")
    return tenant.slug


def _enroll(tenant_id: str, email: str, role: str, issuer: str, subject: str) -> None:
    """Make the identity an active member of the tenant with ``role`` (audited)."""
    # Deferred: each command imports only what it runs, after the local environment is set (bootstrap alone is ~1.2 s).
    from chalicelib.errors import ConflictError
    from chalicelib.members import service as members
    from chalicelib.settings import reset_settings
    from chalicelib.store import registry
    from chalicelib.tenancy.context import TenantContext, bound

    reset_settings()
    tenant = registry.get_tenant(uuid.UUID(tenant_id))
    if tenant is None:
        raise CliError(f"no tenant {tenant_id} in the local registry")
    with bound(TenantContext(tenant=tenant, request_id=f"cli-{uuid.uuid4()}")):
        try:
            members.enroll_member(email, role, issuer, subject)
        except ConflictError as exc:
            raise CliError(f"{email} is already a member of another identity in this tenant") from exc


def make_token(*, role: str, tenant: str | None, sub: str | None = None, ttl: int = 3600, email: str | None = None,
               token_use: str = "id", dev_key: bool = False) -> str:  # noqa: S107 - which token, not one
    """A token for ``role`` (in ``tenant``): signed in through the local Cognito pool, or
    with ``dev_key`` minted with the development key (``sub`` and ``ttl`` apply only there).
    Either way a tenant role's identity is made an active member of the tenant."""
    _require_local_stage()
    # Deferred: each command imports only what it runs, after the local environment is set (bootstrap alone is ~1.2 s).
    from chalicelib.local import identity

    if role == "platform_admin" and tenant:
        raise CliError("a platform_admin token carries no tenant")
    if role != "platform_admin" and not tenant:
        raise CliError("--tenant is required for tenant roles")
    if not 1 <= ttl <= 7 * 86400:
        raise CliError("--ttl must be between 1 second and 7 days")
    tenant_id = _tenant_id(tenant) if tenant else None
    cognito, pool = _local_cognito()
    where = f"{_slug(tenant_id)}.localhost" if tenant_id else "platform.localhost"
    groups = (identity.ADMIN_GROUP,) if role == "platform_admin" else (role,)
    if dev_key:
        # Deferred: the dev key's signer is needed only for --dev-key tokens.
        from chalicelib.local.devkeys import issue_token

        subject = sub or f"dev-{role}"
        address = email or f"{subject}@{where}"
        claims: dict[str, Any] = {"cognito:groups": list(groups), "email": address, "email_verified": True}
        if tenant_id is not None:
            claims[identity.TENANT_ATTRIBUTE] = tenant_id
            _enroll(tenant_id, address, role, pool.issuer, subject)
        return issue_token(issuer=pool.issuer, audience=pool.client_id, sub=subject, ttl_seconds=ttl,
                           claims=claims)
    if sub:
        raise CliError("--sub needs --dev-key: the pool chooses its users' subjects")
    address = email or f"{role.replace('_', '-')}@{where}"
    subject = identity.ensure_user(cognito, pool, address, tenant_id=tenant_id, groups=groups)
    if tenant_id is not None:
        _enroll(tenant_id, address, role, pool.issuer, subject)
    return identity.sign_in(cognito, pool, address)[token_use]


def _with_local_app() -> tuple[Any, Any]:
    apply_local_environment(_local_aws_port())
    # Deferred: each command imports only what it runs, after the local environment is set (bootstrap alone is ~1.2 s).
    from chalicelib.settings import get_settings, reset_settings

    reset_settings()
    # Deferred: each command imports only what it runs, after the local environment is set (bootstrap alone is ~1.2 s).
    from app import app

    return app, get_settings()


def _cmd_token(args: argparse.Namespace) -> None:
    print(make_token(role=args.role, tenant=args.tenant, sub=args.sub, ttl=args.ttl, email=args.email,
                     token_use=args.token_use, dev_key=args.dev_key))


def _cmd_bootstrap(_args: argparse.Namespace) -> None:
    _require_local_stage()
    # Deferred: each command imports only what it runs, after the local environment is set (bootstrap alone is ~1.2 s).
    from chalicelib.local.bootstrap import app_queue_names, bootstrap

    app, settings = _with_local_app()
    print(bootstrap(settings, app_queue_names(app)))


def _cmd_seed(_args: argparse.Namespace) -> None:
    _require_local_stage()
    _with_local_app()
    # Deferred: each command imports only what it runs, after the local environment is set (bootstrap alone is ~1.2 s).
    from chalicelib.local.seed import seed_demo_tenant

    tenant = seed_demo_tenant()
    print(f"demo tenant: slug={tenant.slug} id={tenant.id}")


def _cmd_schedule(args: argparse.Namespace) -> None:
    _require_local_stage()
    app, settings = _with_local_app()
    # Deferred: each command imports only what it runs, after the local environment is set (bootstrap alone is ~1.2 s).
    from chalicelib.local.pump import EventPump

    pump = EventPump(app, settings.region)
    if args.action == "list":
        for source, schedule in pump.schedules:
            print(f"{source.name}\t{schedule.expression}")
        return
    if not args.name:
        raise CliError("schedule run needs the name of a scheduled handler (see: schedule list)")
    known = [source.name for source, _ in pump.schedules]
    if args.name not in known:
        raise CliError(f"no scheduled handler named {args.name!r}; known: {', '.join(known) or 'none'}")
    print(pump.fire(args.name))


def _cmd_usage_plans(args: argparse.Namespace) -> None:
    """The shared keys recorded, every live tenant's key wired and recorded, deleted
    tenants' keys reclaimed, and the per-tenant usage plans an earlier version made emptied
    and deleted (idempotent). The usage plans are the stack's: this never makes or edits one."""
    for name, value in stage_environment(args.stage).items():
        os.environ.setdefault(name, value)
    # Deferred: each command imports only what it runs, after the local environment is set (bootstrap alone is ~1.2 s).
    from chalicelib import aws
    from chalicelib.ratelimit import service as rate_limit
    from chalicelib.ratelimit import usage_plans
    from chalicelib.settings import get_settings
    from chalicelib.store import registry
    from chalicelib.tenancy.tenant import TenantStatus

    get_settings()
    missing = sorted({*rate_limit.rates.plan_rate_limits(), usage_plans.PLATFORM_PLAN, usage_plans.OVERFLOW_PLAN}
                     - set(usage_plans.managed_usage_plans()))
    if missing:
        raise CliError(f"usage plans missing (the stack makes them): {', '.join(missing)}")
    # The stack's shared keys, recorded so the authorizer reads them from the registry.
    shared = [usage_plans.shared_key(name).name for name in (usage_plans.platform_key_name(),
                                                             usage_plans.overflow_key_name())]
    wired = reclaimed = 0
    for tenant in registry.iter_tenants():
        if tenant.status in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED):
            rate_limit.wire_tenant_key(tenant)
            wired += 1
        elif tenant.status == TenantStatus.INACTIVE:
            reclaimed += rate_limit.reclaim_tenant_key(tenant)
    deleted = []
    apigateway = aws.client("apigateway")
    for tenant_id, usage_plan in usage_plans.legacy_tenant_usage_plans().items():
        if apigateway.get_usage_plan_keys(usagePlanId=usage_plan["id"]).get("items"):
            continue  # a key of a tenant outside this listing: left for an operator to look at
        stages = [f"{s['apiId']}:{s['stage']}" for s in usage_plan.get("apiStages") or ()]
        if stages:  # API Gateway deletes a usage plan only once it is on no stage
            apigateway.update_usage_plan(usagePlanId=usage_plan["id"], patchOperations=[
                {"op": "remove", "path": "/apiStages", "value": stage} for stage in stages])
        apigateway.delete_usage_plan(usagePlanId=usage_plan["id"])
        deleted.append(str(tenant_id))
    print({"shared_keys": shared, "tenant_keys": wired, "reclaimed_keys": reclaimed,
           "legacy_usage_plans_deleted": deleted})


def _cmd_restore_tenant(args: argparse.Namespace) -> None:
    """One tenant's items made what the restored copy ``--from-table`` holds; no other tenant's touched."""
    for name, value in stage_environment(args.stage).items():
        os.environ.setdefault(name, value)
    # Deferred: loaded only for this command, once the stage's environment above is set.
    from chalicelib.operations.restore import restore_tenant
    from chalicelib.store import registry

    tenant = registry.get_tenant(uuid.UUID(args.tenant))
    if tenant is None:
        raise CliError(f"no tenant {args.tenant}")
    print(restore_tenant(tenant, args.from_table))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="sign in through the local Cognito pool and print a token")
    token.add_argument("--role", required=True,
                       choices=["platform_admin", "tenant_admin", "manager", "professional", "customer"])
    token.add_argument("--tenant", help="tenant slug or UUID (required for tenant roles)")
    token.add_argument("--email", help="the user's email (default <role>@<tenant>.localhost)")
    token.add_argument("--token-use", choices=["id", "access"], default="id",
                       help="the ID token (names the tenant) or the access token (name it by host or X-Tenant-ID)")
    token.add_argument("--dev-key", action="store_true",
                       help="mint with the local development key instead of signing in (for odd tokens)")
    token.add_argument("--sub", help="with --dev-key: the subject (default dev-<role>)")
    token.add_argument("--ttl", type=int, default=3600, help="with --dev-key: lifetime in seconds (default 3600)")
    token.set_defaults(func=_cmd_token)
    commands.add_parser("bootstrap", help="create local AWS resources").set_defaults(func=_cmd_bootstrap)
    commands.add_parser("seed", help="create the demo tenant").set_defaults(func=_cmd_seed)
    schedule = commands.add_parser("schedule", help="list or run scheduled handlers")
    schedule.add_argument("action", choices=["list", "run"])
    schedule.add_argument("name", nargs="?")
    schedule.set_defaults(func=_cmd_schedule)
    plans = commands.add_parser("usage-plans", help="repair tenant API keys and their usage-plan attachments")
    plans.add_argument("action", choices=["sync"])
    plans.add_argument("--stage", default="local", choices=["local", "dev", "prod"])
    plans.set_defaults(func=_cmd_usage_plans)
    restore = commands.add_parser("restore-tenant", help="restore one tenant's data from a restored table copy")
    restore.add_argument("--tenant", required=True, help="the tenant's UUID")
    restore.add_argument("--from-table", required=True, help="the table AWS restored from a backup or to a time")
    restore.add_argument("--stage", default="local", choices=["local", "dev", "prod"])
    restore.set_defaults(func=_cmd_restore_tenant)
    args = parser.parse_args(argv)
    # A command's output is what it prints (a token, an id): the EMF metric lines the code it
    # runs records go to stderr, never into what a script captures.
    previous = metrics.use_stream(sys.stderr)
    try:
        args.func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        metrics.use_stream(previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
