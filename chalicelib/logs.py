"""Structured JSON logs whose per-request keys live in a contextvar.

Lambda keeps the process warm between invocations of different tenants. Keys bound
here are reset at the start of every request and cleared when it ends, so a log line
can never carry a previous invocation's request id or tenant id. The standard library
is enough for this; Powertools' Logger would add ~35 ms to every cold start for the same
two keys.
"""
from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

_log_keys: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "log_keys", default=MappingProxyType({})
)


def reset_log_keys() -> None:
    _log_keys.set(MappingProxyType({}))


def bind_log_keys(**keys: Any) -> None:
    _log_keys.set(MappingProxyType({**_log_keys.get(), **{k: v for k, v in keys.items() if v is not None}}))


def current_log_keys() -> Mapping[str, Any]:
    return _log_keys.get()


_base_factory = logging.getLogRecordFactory()


def _record_with_keys(*args: Any, **kwargs: Any) -> logging.LogRecord:
    # Keys are captured when the record is made (in the request's context), not when a
    # handler formats it, so every handler, including a test's capture, sees the same.
    record = _base_factory(*args, **kwargs)
    record.log_keys = dict(_log_keys.get())
    return record


logging.setLogRecordFactory(_record_with_keys)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "log_keys", {}),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            entry.update(fields)
        if record.exc_info and record.levelno >= logging.ERROR:
            # Tracebacks go to the log (operators), never to the client.
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


_configured = False


def configure_logging(level: str = "INFO") -> None:
    """Install the JSON handler on the root logger once per process."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    # Replace plain stream handlers (and the Lambda runtime's text handler, which would
    # print every line twice); keep any other handler, such as a test's log capture.
    root.handlers = [
        h for h in root.handlers
        if type(h) is not logging.StreamHandler and type(h).__name__ != "LambdaLoggerHandler"
    ] + [handler]
    root.setLevel(level)
    # botocore's debug logs would print request bodies (PII) if someone lowered the level.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    # moto's embedded server logs every AWS call it serves; the local runner is noisy enough.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _configured = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def security_event(event: str, **fields: Any) -> None:
    """A security-relevant refusal, on its own logger so it can be routed and alarmed on."""
    logging.getLogger("security").warning(event, extra={"fields": {"security_event": event, **fields}})
