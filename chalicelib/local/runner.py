"""``make run``: the whole system on one machine.

moto's server on 127.0.0.1:LOCAL_AWS_PORT (inspectable with boto3 or the AWS CLI),
resources bootstrapped, the demo tenant seeded, tokens and curl examples printed, the
event pump running, and the API served on 127.0.0.1:PORT until Ctrl-C or SIGTERM.
"""
from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from chalicelib.local.environment import (
    DEFAULT_API_PORT,
    DEFAULT_AWS_PORT,
    IDENTITY_FILE,
    PROJECT_DIR,
    apply_local_environment,
)

log = logging.getLogger("local.runner")
# Chalice's local server keeps socketserver's listen backlog of 5: 50 clients creating at
# once got 8 connection resets (issue 20), 200 got 100. The kernel caps the queue at
# net.core.somaxconn (4096 on current Linux). moto's server takes the same backlog
# (local/motoserver.py): each request thread may open its own connection to it.
LISTEN_BACKLOG = 1024


class PortInUseError(RuntimeError):
    pass


def check_port_free(port: int, what: str, variable: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers themselves bind: connections of a run that just stopped linger in
        # TIME_WAIT and must not block the next run, while a listening socket still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUseError(
                    f"port {port} on 127.0.0.1 ({what}) is already in use: is another `make run` "
                    f"running? Stop it, or choose another port with {variable}=<port>."
                ) from None
            raise


def _banner(api: str, aws_port: int, tenant: Any, tokens: dict[str, str], http_dir: Path) -> str:
    admin, demo = tokens["platform_admin"], tokens["tenant_admin"]
    return f"""
Local platform is up.
  API          {api}
  local AWS    http://127.0.0.1:{aws_port}
               (e.g. AWS_ENDPOINT_URL=http://127.0.0.1:{aws_port} aws dynamodb list-tables)
  demo tenant  slug=demo id={tenant.id}

Tokens from the local Cognito pool (ID tokens, valid 1 hour; more with:
  .venv/bin/python -m chalicelib.cli token --help)
  export ADMIN_TOKEN={admin}
  export DEMO_TOKEN={demo}

HTTP collection (VS Code REST Client, JetBrains HTTP Client), these tokens wired in:
  {http_dir}/*.http

Try:
  curl -s {api}/api/health
  curl -s -H "Authorization: Bearer $DEMO_TOKEN" {api}/api/tenant
  curl -s -H "Authorization: Bearer $DEMO_TOKEN" -H "Host: demo.localhost:{api.rsplit(':', 1)[1]}" {api}/api/tenant
  curl -s -H "Authorization: Bearer $ADMIN_TOKEN" -H "X-Tenant-ID: demo" {api}/api/tenant
  curl -s -H "Authorization: Bearer $DEMO_TOKEN" {api}/api/tenant/usage
  curl -s -H "Authorization: Bearer $ADMIN_TOKEN" {api}/api/admin/plans
  curl -s {api}/api/openapi.json
  curl -s -X POST -H "Authorization: Bearer $DEMO_TOKEN" -H "Content-Type: application/json" \\
    -d '{{"format":"csv","notify_email":"you@demo.example"}}' {api}/api/tenant/exports
  (the mail is logged as "email sent"; its link: curl -L -o export.zip -H "Authorization: Bearer $DEMO_TOKEN" <link>)

Ctrl-C stops everything.
""".strip()


def _trust_local_pool(aws_port: int, dev_key: Any, dev_kid: str) -> dict[str, str]:
    """Create the local Cognito pool; write its JWKS (plus the dev key) and claim mapping."""
    # Deferred: called after the local environment is set, like main's imports below.
    import boto3

    from chalicelib.local.identity import claim_environment, ensure_pool, write_jwks

    endpoint = f"http://127.0.0.1:{aws_port}"
    pool = ensure_pool(boto3.client("cognito-idp", endpoint_url=endpoint), endpoint)
    environment = claim_environment(pool, write_jwks(pool, dev_key, dev_kid))
    IDENTITY_FILE.write_text(json.dumps(environment, indent=2))
    return environment


def _local_server(app: Any, config: Any, port: int) -> Any:
    """``chalice.local.create_local_server`` with a listen backlog that takes load.

    The same two steps as Chalice's factory (the app's class gains the local behaviour,
    then a threaded ``LocalDevServer``), with the server class swapped for one whose
    ``request_queue_size`` is ``LISTEN_BACKLOG``: ``LocalDevServer`` takes a server class.
    """
    # Deferred with the rest of chalice.local (see main).
    from chalice.local import CustomLocalChalice, LocalChalice, LocalDevServer, ThreadedHTTPServer

    class _BackloggedServer(ThreadedHTTPServer):
        request_queue_size = LISTEN_BACKLOG

    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    return LocalDevServer(app, config, "127.0.0.1", port, server_cls=_BackloggedServer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_API_PORT)))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("LOCAL_AWS_PORT", DEFAULT_AWS_PORT)))
    parser.add_argument("--http-dir", type=Path, default=PROJECT_DIR / ".local" / "http",
                        help="where to write the HTTP collection (.http files with this run's tokens)")
    args = parser.parse_args(argv)
    try:
        check_port_free(args.aws_port, "local AWS", "LOCAL_AWS_PORT")
        check_port_free(args.port, "the API", "PORT")
    except PortInUseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    apply_local_environment(args.aws_port)
    os.environ["LOCAL_AWS_PORT"] = str(args.aws_port)  # the in-process CLI calls (banner tokens) find it
    # Mailed links (an export's download) point at this API, not https://<slug>.localhost.
    os.environ["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{args.port}"
    # Deferred: imported after the local environment is set; the moto server module alone is ~0.9 s.
    from chalicelib.local.devkeys import ensure_dev_key
    from chalicelib.local.motoserver import IsolatingMotoServer
    from chalicelib.settings import get_settings, reset_settings

    dev_key, dev_kid = ensure_dev_key()
    # Reproducible pool and client ids (moto hashes their names), so every local process
    # and run agrees on the issuer.
    os.environ["MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY"] = "HASH"
    os.environ["MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY"] = "HASH"
    moto = IsolatingMotoServer(ip_address="127.0.0.1", port=args.aws_port, verbose=False)
    moto.start()
    server = None
    pump = None
    try:
        os.environ.update(_trust_local_pool(args.aws_port, dev_key, dev_kid))
        reset_settings()
        settings = get_settings()
        # Deferred: imported after the local environment is set; the moto server module alone is ~0.9 s.
        from chalice.cli.factory import CLIFactory

        from app import app
        from chalicelib.cli import make_token
        from chalicelib.local.bootstrap import app_queue_names, bootstrap
        from chalicelib.local.collection import write_collection
        from chalicelib.local.pump import EventPump
        from chalicelib.local.seed import seed_demo_tenant
        from chalicelib.logs import configure_logging
        from chalicelib.meta.openapi import build_openapi
        from chalicelib.meta.routes import servers

        configure_logging(settings.log_level)
        bootstrap(settings, app_queue_names(app))
        tenant = seed_demo_tenant()
        tokens = {
            "platform_admin": make_token(role="platform_admin", tenant=None),
            "tenant_admin": make_token(role="tenant_admin", tenant=str(tenant.id)),
        }
        api = f"http://127.0.0.1:{args.port}"
        document = build_openapi(app, f"{settings.app_name} API", servers(settings))
        write_collection(args.http_dir, document, api, tokens)
        pump = EventPump(app, settings.region)
        pump.start()
        config = CLIFactory(str(PROJECT_DIR)).create_config_obj(chalice_stage_name="local")
        server = _local_server(app, config, args.port)
        stopper = server

        def stop(signum: int, _frame: Any) -> None:
            threading.Thread(target=stopper.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print(_banner(api, args.aws_port, tenant, tokens, args.http_dir), flush=True)
        server.server.serve_forever()
        print("stopping", flush=True)
        return 0
    finally:
        if pump is not None:
            pump.stop()
        if server is not None:
            server.server.server_close()
        moto.stop()


if __name__ == "__main__":
    sys.exit(main())
