"""A pytest plugin that records every AWS call the application's functions make.

The deployment contract (tests/infra/test_contract.py) evaluates these records against
the synthesized templates' IAM policies: moto accepts any credentials and evaluates no
IAM condition, so a call the deployed role may not make passes every other test.

How a call is seen: a ``before-parameter-build`` handler keeps the call's parameters in
the request context, and a ``before-sign`` handler (botocore signs every request, and
every presigned URL or POST, with the client's credentials) records it once, with:

* the Lambda function whose code path made it: the outermost frame of the calling
  thread that runs a function's entry point (``Chalice.__call__`` for ``api_handler``,
  the registered function of each authorizer, schedule and queue handler);
* who signs: the tenant data-access role (a client of tenancy/clients.py, its
  credentials bound to one tenant) or the function's own role;
* the tenant bound in the request context, the service, operation and region, and the
  stage's DR region (``DR_REGION``) when the test gave it one.

Both handlers are added to botocore's built-in handlers, which every botocore session
copies when it is created (moto installs its own mock the same way): the app's sessions,
pynamodb's and the Encryption SDK's clients all carry them. Calls outside any function
(fixtures seeding data, tests inspecting moto) are counted, not recorded.
"""
from __future__ import annotations

import base64
import inspect
import sys
import threading
from dataclasses import dataclass, field
from types import CodeType
from typing import Any

from botocore import handlers

_CONTEXT_KEY = "contract_call"
_RECORDED_KEY = "contract_recorded"


@dataclass
class Recorder:
    calls: list[dict[str, Any]] = field(default_factory=list)
    outside_functions: int = 0
    suites: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    _entries: tuple[dict[CodeType, str], set[CodeType], dict[int, str]] | None = None
    _app_id: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def entries(self) -> tuple[dict[CodeType, str], set[CodeType], dict[int, str]]:
        """How a frame names the function it runs in: (entry code -> function name; codes of
        dispatchers shared by several functions; id of a registered callable -> function name).

        A handler registered through ``@tenant_handler`` reads the registry (the tenant, the
        active tenants) in the decorator's wrapper, before its own body runs: the wrapper's
        code is shared by every such handler, so its frame is named by the callable it holds
        (chalice's ``EventSourceHandler``/``ChaliceAuthorizer`` ``self.func``, the wrapper's ``fn``).
        """
        module = sys.modules.get("app")
        app = getattr(module, "app", None)
        if app is None:
            return {}, set(), {}
        if self._entries is None or self._app_id != id(app):
            from chalice import Chalice
            from chalice.app import ChaliceAuthorizer, EventSourceHandler

            codes: dict[CodeType, str] = {Chalice.__call__.__code__: "api_handler"}
            shared = {EventSourceHandler.__call__.__code__, ChaliceAuthorizer.__call__.__code__}
            held: dict[int, str] = {}
            registered = [(s.name, getattr(module, s.handler_string.rsplit(".", 1)[-1])) for s in app.event_sources]
            for auth in app.builtin_auth_handlers:
                module_name, _, attribute = auth.handler_string.rpartition(".")
                registered.append((auth.name, getattr(sys.modules[module_name], attribute)))
            for name, handler in registered:
                func = getattr(handler, "func", handler)
                inner = inspect.unwrap(func)
                codes[inner.__code__] = name
                held[id(func)] = held[id(inner)] = name
                if func is not inner:
                    shared.add(func.__code__)
            self._entries, self._app_id = (codes, shared, held), id(app)
        return self._entries

    def function(self) -> str | None:
        codes, shared, held = self.entries()
        frame = sys._getframe(2)
        name = None
        while frame is not None:
            code = frame.f_code
            if code in codes:
                name = codes[code]  # keep going: the outermost entry is the function
            elif code in shared:
                local = frame.f_locals
                holder = local.get("self")
                for candidate in (getattr(holder, "func", None), local.get("fn")):
                    if candidate is not None and id(candidate) in held:
                        name = held[id(candidate)]
                        break
            frame = frame.f_back
        return name

    def record(self, call: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append(call)


RECORDER = Recorder()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return "b64:" + base64.b64encode(bytes(value[:64])).decode()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


# Parameters that carry what IAM authorizes (names, keys, tags, policies), nothing bulky.
_KEPT = {"TableName", "IndexName", "Key", "KeyConditionExpression", "ExpressionAttributeNames",
         "ExpressionAttributeValues", "RequestItems", "TransactItems", "Bucket", "Prefix", "CopySource",
         "SSEKMSKeyId", "ServerSideEncryption", "Delete", "QueueUrl", "QueueName", "KeyId", "TargetKeyId",
         "AliasName", "Tags", "Policy", "GrantTokens", "EncryptionContext", "RoleArn", "DurationSeconds",
         "TransitiveTagKeys", "Source", "FromEmailAddress", "Destination", "PhoneNumber", "TopicArn",
         "TargetArn", "usagePlanId", "keyId", "apiKey", "resourceArn", "tags", "name", "Fields", "Conditions",
         "DomainName", "CertificateArn", "restApiId", "basePath", "stage", "Name", "HostedZoneId", "ReplicaRegion"}


def _kept(params: dict[str, Any]) -> dict[str, Any]:
    kept = {k: _jsonable(v) for k, v in params.items() if k in _KEPT}
    if "Key" in params and isinstance(params["Key"], str):
        kept["Key"] = params["Key"]
    if "Item" in params and isinstance(params["Item"], dict):
        # Only key attributes: a put's partition key is what dynamodb:LeadingKeys sees.
        kept["Item"] = {k: _jsonable(v) for k, v in params["Item"].items() if k in ("pk", "sk")}
    for name in ("RequestItems", "TransactItems"):
        if name in params:
            kept[name] = _jsonable(_strip_items(params[name]))
    return kept


def _strip_items(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ({a: v for a, v in item.items() if a in ("pk", "sk")} if k == "Item" and isinstance(item, dict)
                    else _strip_items(item)) for k, item in value.items()}
    if isinstance(value, list):
        return [_strip_items(v) for v in value]
    return value


def _keep_params(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    context[_CONTEXT_KEY] = {"operation": model.name, "params": _kept(params),
                             "http": {"method": model.http.get("method"), "uri": model.http.get("requestUri")}}


def _record(**kwargs: Any) -> None:
    try:
        _record_call(**kwargs)
    except Exception as exc:  # never change the app's behaviour; the contract test reports it
        RECORDER.errors.append(repr(exc))


def _record_call(request: Any = None, request_signer: Any = None, operation_name: str | None = None,
            signing_name: str | None = None, region_name: str | None = None, **_: Any) -> None:
    context = getattr(request, "context", None)
    if not isinstance(context, dict) or _CONTEXT_KEY not in context or context.get(_RECORDED_KEY):
        return
    context[_RECORDED_KEY] = True  # retries sign again: one record per call
    function = RECORDER.function()
    if function is None:
        RECORDER.outside_functions += 1
        return
    from chalicelib.tenancy.clients import RoleCredentials
    from chalicelib.tenancy.context import current_or_none

    credentials = getattr(request_signer, "_credentials", None)
    bound = current_or_none()
    call = dict(context[_CONTEXT_KEY])
    post = context.get("s3-presign-post-fields")
    if isinstance(post, dict):
        # A presigned POST is built on CreateBucket's request but signed as the PutObject of
        # its form's key (botocore's S3PostPresigner): that is what the signer authorizes.
        call["operation"] = operation_name or "PutObject"
        call["params"] = {**call["params"], "Key": str(post.get("key", ""))}
    call.update({
        "function": function,
        "service": signing_name,
        "region": region_name,
        "presigned": bool(context.get("is_presign_request")) or "query" in str(getattr(request, "auth_path", "")),
        "signer": ("tenant", str(credentials.tenant_id)) if isinstance(credentials, RoleCredentials) else (
            "function", None),
        "bound_tenant": str(bound.tenant_id) if bound is not None else None,
        "url": str(getattr(request, "url", "")).split("?", 1)[0],
        # A stage without a DR region never makes a call of a test with one (test_contract.py).
        "dr_region": _dr_region(),
    })
    key = call["params"].get("KeyId") or call["params"].get("TargetKeyId") or call["params"].get("SSEKMSKeyId")
    if key:
        call["key"] = _kms_key(str(key), region_name or "us-east-1")
    if signing_name == "acm" and call["params"].get("CertificateArn"):
        call["certificate_tags"] = _certificate_tags(str(call["params"]["CertificateArn"]), region_name or "us-east-1")
    RECORDER.record(call)


def _dr_region() -> str | None:
    from chalicelib.settings import get_settings

    return get_settings().dr_region


def _certificate_tags(arn: str, region: str) -> dict[str, str]:
    """The tags of the certificate a call names, as moto holds them (aws:ResourceTag)."""
    from moto.acm.models import acm_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    # Read as moto holds it (its get_certificate would advance the certificate's status).
    bundle = acm_backends[DEFAULT_ACCOUNT_ID][region]._certificates.get(arn)
    return {} if bundle is None else {k: v or "" for k, v in bundle.tags.items()}


def _kms_key(key: str, region: str) -> dict[str, Any] | None:
    """The KMS key a call names, as moto holds it: ARN, tags (aws:ResourceTag) and key policy."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.kms.models import kms_backends

    backend = kms_backends[DEFAULT_ACCOUNT_ID][region]
    try:
        key_id = backend.any_id_to_key_id(key)
        found = backend.keys[key_id] if key_id else None
    except Exception:  # a key moto does not know (deleted, or never created): the call fails anyway
        return None
    if found is None:
        return None
    return {"arn": found.arn, "tags": {t["TagKey"]: t["TagValue"] for t in backend.list_resource_tags(key_id).get(
        "Tags", [])}, "policy": found.policy}


handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _keep_params))
handlers.BUILTIN_HANDLERS.append(("before-sign", _record))

# The suites whose calls the contract evaluates (their tests drive the functions).
RECORDED_SUITES = ("api", "integration", "reliability")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """The contract's tests run last, after every recorded test of the session."""
    contract = [i for i in items if getattr(i, "get_closest_marker", None) and i.get_closest_marker("contract")]
    rest = [i for i in items if i not in contract]
    items[:] = rest + contract


def pytest_collection_finish(session: Any) -> None:
    """The recorded suites this session runs (after ``-m``/``-k`` deselected what they do):
    a suite's every test file is run by some worker when the session runs on xdist."""
    for item in session.items:
        parts = item.nodeid.split("/")
        if len(parts) > 2 and parts[0] == "tests" and parts[1] in RECORDED_SUITES:
            RECORDER.suites.add(parts[1])


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "contract: evaluates the recorded AWS calls; runs after them")


def pytest_sessionfinish(session: Any) -> None:
    """``CONTRACT_CALLS_OUT=<file>``: write the session's records there (input of
    ``python -m tests.infra.function_access``, which regenerates the functions' grants)."""
    import json
    import os

    target = os.environ.get("CONTRACT_CALLS_OUT")
    if target:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:  # one recording per xdist worker (<file>.gw0, ...); the controller records nothing
            target = f"{target}.{worker}"
        with open(target, "w") as out:
            json.dump({"suites": sorted(RECORDER.suites), "calls": RECORDER.calls,
                       "outside_functions": RECORDER.outside_functions, "errors": RECORDER.errors}, out)
