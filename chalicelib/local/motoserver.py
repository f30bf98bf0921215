"""moto's threaded server, with DynamoDB requests handled one at a time.

moto's DynamoDB does not isolate concurrent requests: ``transact_write_items`` checks
conditions, writes, and on a cancelled transaction restores a deep copy of the whole
table taken when *it* began, which can resurrect or erase another request's items
(seen: a losing tenant's item left in the registry under a 20-thread slug race). Real
DynamoDB transactions are serializable, and the design relies on it (reservations,
quotas, counters). Serialising DynamoDB requests restores that guarantee locally; every
other service, and every client, stays concurrent.
"""
from __future__ import annotations

import threading
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import ThreadedWSGIServer

# werkzeug listens with a backlog of 128; the local API's request threads (up to its own
# backlog of 1,024, local/runner.py) each may open a connection here at once, as boto3's
# pools open connections beyond their size rather than wait.
LISTEN_BACKLOG = 1024


class _BackloggedWSGIServer(ThreadedWSGIServer):
    request_queue_size = LISTEN_BACKLOG


class _OneDynamoDBRequestAtATime:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))


class IsolatingMotoServer(ThreadedMotoServer):
    """``ThreadedMotoServer`` (built as moto 5.2 builds it, threaded) with isolated DynamoDB
    requests and a listen backlog that takes load."""

    def _server_entry(self) -> None:
        app = _OneDynamoDBRequestAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = _BackloggedWSGIServer(self._ip_address, self._port, app, handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()
