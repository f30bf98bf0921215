"""The network routes (issue 3): DynamoDB calls per route, and list latency as the table fills.

**Calls per route.** Every CRUD route of service categories, professionals, customers
and referrals is sent once through ``chalice.test.Client`` while a
``before-parameter-build.dynamodb`` hook, installed on every botocore session of the
process, records each DynamoDB API call and the table(s) it names. Calls are split into
data-table reads (GetItem/Query/BatchGetItem), data-table writes
(PutItem/UpdateItem/DeleteItem/TransactWriteItems/BatchWriteItem), registry calls and
anything else (DescribeTable, ...). The tenant-resolution cache is warm: the whole
benchmark runs with ``TENANT_CACHE_TTL_SECONDS=60`` (the maximum; the stage uses 5), and
a full uncounted round of the same routes goes first, so pynamodb's table descriptions
and the tenant's blind-index secret are cached too. The goal is one read for a list or a
get and one write (one transaction) for a create, update or delete; a route that does
more says so in its row.

**List latency against the table's size.** One tenant with 50 professionals (created
through the service, as the route would), then other tenants' professionals written
straight to the data table with batch writes inside each tenant's bound context (the
guard refuses anything else): first 1 other tenant, then 200 (20 in ``--quick``), 20
professionals each, every one a ``PRO`` item and its ``PROEMAIL`` uniqueness item.
``GET /api/professionals?limit=25`` is timed before and after. A single tenant's list is
one Query on its own partition, so the other tenants should cost nothing in DynamoDB;
moto, though, answers a Query by walking every item of the table, so the same Query is
also timed straight through boto3, to show how much of any growth is moto's.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.harness import Row, World, create_tenant, median, quiet_request_logs, ratio, world

NAME = "network"
CACHE_TTL = "60"  # the settings' maximum: no resolution-cache refresh inside a run

_READS = frozenset({"GetItem", "Query", "BatchGetItem", "TransactGetItems", "Scan"})
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
_GOAL_READ = "1 read, 0 registry"
_GOAL_WRITE = "1 transaction (or 1 write), 0 registry"
# A referral created, accepted or declined then reads what its notice needs (see "notices:").
_GOAL_NOTICE = "1 transaction + its notice's reads, 0 registry"


# ---- counting DynamoDB calls -------------------------------------------------------------


def _tables(params: dict[str, Any]) -> set[str]:
    """Every table a request names: TableName, Transact*'s items, Batch*'s RequestItems."""
    names = {params["TableName"]} if "TableName" in params else set()
    for entry in params.get("TransactItems", ()):
        names.update(action["TableName"] for action in entry.values() if "TableName" in action)
    names.update(params.get("RequestItems", {}))
    return names


@dataclass
class Calls:
    """The DynamoDB calls of one request, by class and by operation."""

    reads: int = 0
    writes: int = 0
    registry: int = 0
    other: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    queries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.reads + self.writes + self.registry + self.other

    def summary(self) -> str:
        """E.g. "1 read + 1 transaction, 0 registry", in the goal column's words."""
        transactions = self.operations["TransactWriteItems"]
        parts = [f"{self.reads} read" if self.reads else "",
                 f"{transactions} transaction" if transactions else "",
                 f"{self.writes - transactions} write" if self.writes - transactions else ""]
        text = " + ".join(p for p in parts if p) or "no data call"
        return text + f", {self.registry} registry" + (f", {self.other} other" if self.other else "")

    def operation_names(self) -> str:
        return ", ".join(f"{n}x{op}" if n > 1 else op for op, n in self.operations.items()) or "none"


class _CallRecorder:
    """Installed once per process; records only while a :meth:`counting` block is open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Calls | None = None

    def on_call(self, model: Any = None, params: dict[str, Any] | None = None, **_: Any) -> None:
        calls = self._current
        if calls is None:
            return
        from chalicelib.settings import get_settings

        settings = get_settings()
        operation = getattr(model, "name", "?")
        tables = _tables(params or {})
        with self._lock:
            calls.operations[operation] += 1
            if settings.registry_table in tables:
                calls.registry += 1
            elif settings.data_table in tables and operation in _READS:
                calls.reads += 1
                if operation == "Query":
                    calls.queries.append(dict(params or {}))
            elif settings.data_table in tables and operation in _WRITES:
                calls.writes += 1
            else:
                calls.other += 1

    @contextmanager
    def counting(self) -> Iterator[Calls]:
        calls = Calls()
        self._current = calls
        try:
            yield calls
        finally:
            self._current = None


_recorder = _CallRecorder()


def install_call_recorder() -> None:
    from chalicelib import aws

    aws.install_session_hook("before-parameter-build.dynamodb", _recorder.on_call)  # idempotent


# ---- requests ----------------------------------------------------------------------------


class Api:
    """JSON requests through chalice.test.Client, refusing any unexpected status."""

    def __init__(self, http: Any, token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None, expect: int = 200,
             headers: dict[str, str] | None = None) -> tuple[Any, dict[str, str]]:
        all_headers = {**self.headers, **(headers or {})}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            all_headers["Content-Type"] = "application/json"
        response = self.http.request(method, path, headers=all_headers, body=payload)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path} answered {response.status_code} (expected {expect}): "
                               f"{response.body[:300]!r}")
        return (json.loads(response.body) if response.body else None), dict(response.headers)


def _sub(token: str) -> str:
    import jwt

    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


@dataclass(frozen=True)
class Step:
    label: str  # the route, e.g. "PATCH /api/professionals/{id}"
    goal: str
    request: Callable[[], Any]


def _if_match(headers: dict[str, str]) -> dict[str, str]:
    etag = next(v for k, v in headers.items() if k.lower() == "etag")
    return {"If-Match": etag}


def _entity_steps(api: Api, n: int, fixtures: dict[str, str]) -> Iterator[Step]:
    """create, list, get, update (If-Match), delete of each entity; ``n`` keeps keys fresh."""
    state: dict[str, Any] = {}

    def create(path: str, body: dict[str, Any], key: str) -> Callable[[], None]:
        def go() -> None:
            created, headers = api.call("POST", path, body, expect=201)
            state["id"], state["if_match"] = created[key], _if_match(headers)

        return go

    def patch(path: str, body: dict[str, Any]) -> Callable[[], None]:
        return lambda: api.call("PATCH", f"{path}/{state['id']}", body, headers=state["if_match"])

    entities = [
        ("/api/service-categories", "slug", {"slug": f"bench-cat-{n}", "name": "Glass"}, {"name": "Glass repair"}),
        ("/api/professionals", "id",
         {"business_name": f"Shop {n}", "contact_name": "Pat", "email": f"pat-{n}@example.com",
          "service_categories": [fixtures["category"]]},
         {"business_name": f"Shop {n} and sons"}),
        ("/api/customers", "id", {"name": "Casey", "email": f"casey-{n}@example.com"}, {"phone": "+1 555 0100"}),
        ("/api/referrals", "id",
         {"from_professional_id": fixtures["pro_a"], "to_professional_id": fixtures["pro_b"],
          "customer_id": fixtures["customer"], "service_category": fixtures["category"]},
         {"status": "accepted"}),
    ]
    for path, key, create_body, patch_body in entities:
        item = f"{path}/{{{key}}}"
        write_goal = _GOAL_NOTICE if path == "/api/referrals" else _GOAL_WRITE
        yield Step(f"POST {path}", write_goal, create(path, create_body, key))
        yield Step(f"GET {path}", _GOAL_READ, lambda path=path: api.call("GET", f"{path}?limit=25"))
        yield Step(f"GET {item}", _GOAL_READ, lambda path=path: api.call("GET", f"{path}/{state['id']}"))
        yield Step(f"PATCH {item} (If-Match)", write_goal, patch(path, patch_body))
        yield Step(f"DELETE {item}", _GOAL_WRITE,
                   lambda path=path: api.call("DELETE", f"{path}/{state['id']}", expect=204))


def _fixtures(api: Api, pro_sub: str, customer_sub: str) -> tuple[dict[str, str], Calls]:
    """A category, two professionals (one linked to a login), a customer (linked) and a referral.

    Also the calls of the tenant's first professional create in this process, which
    fetches (here: creates) the tenant's blind-index secret before its transaction.
    """
    category = "bench-brakes"
    api.call("POST", "/api/service-categories", {"slug": category, "name": "Brakes"}, expect=201)

    def professional(i: int) -> str:
        body = {"business_name": f"Fixture {i}", "contact_name": "Sam", "email": f"sam-{i}@example.com",
                "service_categories": [category], **({"user_sub": pro_sub} if i == 0 else {})}
        return str(api.call("POST", "/api/professionals", body, expect=201)[0]["id"])

    with _recorder.counting() as first_create:
        pro_a = professional(0)
    pro_b = professional(1)
    customer = api.call("POST", "/api/customers", {"name": "Robin", "user_sub": customer_sub}, expect=201)[0]["id"]
    api.call("POST", "/api/referrals", {"from_professional_id": pro_b, "to_professional_id": pro_a,
                                        "customer_id": customer, "service_category": category}, expect=201)
    return {"category": category, "pro_a": pro_a, "pro_b": pro_b, "customer": customer}, first_create


def _over_goal(calls: Calls, goal: str) -> bool:
    if goal == _GOAL_NOTICE:
        return (calls.writes, calls.registry, calls.other) != (1, 0, 0)
    if goal == _GOAL_READ:
        return (calls.reads, calls.writes, calls.registry, calls.other) != (1, 0, 0, 0)
    return (calls.reads, calls.writes, calls.registry, calls.other) != (0, 1, 0, 0)


def _call_rows(w: World) -> list[Row]:
    from chalice.test import Client

    from app import app

    tenant = create_tenant("bench-calls")
    admin = w.key.token(tenant_id=tenant.id, role="tenant_admin")
    pro_token = w.key.token(tenant_id=tenant.id, role="professional")
    customer_token = w.key.token(tenant_id=tenant.id, role="customer")
    rows: list[Row] = []
    with Client(app, project_dir=str(w.project_dir)) as client:
        api = Api(client.http, admin)
        fixtures, first_create = _fixtures(api, _sub(pro_token), _sub(customer_token))
        as_pro, as_customer = Api(client.http, pro_token), Api(client.http, customer_token)
        extra = [
            Step("GET /api/referrals?direction=received (as a linked professional)", _GOAL_READ,
                 lambda: as_pro.call("GET", f"/api/referrals?professional_id={fixtures['pro_a']}"
                                            "&direction=received&limit=25")),
            Step("GET /api/customers (as a customer login: its own record)", _GOAL_READ,
                 lambda: as_customer.call("GET", "/api/customers?limit=25")),
        ]
        # An uncounted round first: the resolution cache, pynamodb's DescribeTable and the
        # blind-index secret are then warm, as in a container that has served before.
        for step in [*_entity_steps(api, 0, fixtures), *extra]:
            step.request()
        measured: list[tuple[Step, Calls]] = []
        for step in [*_entity_steps(api, 1, fixtures), *extra]:
            with _recorder.counting() as calls:
                step.request()
            measured.append((step, calls))

    for step, calls in measured:
        rows.append(Row(NAME, f"calls: {step.label}", calls.summary(), calls.operation_names(), step.goal))
    rows.append(Row(NAME, "calls: POST /api/professionals, the tenant's first in this process",
                    first_create.summary(), first_create.operation_names(), "(blind-index secret, once)"))
    over = [step.label for step, calls in measured if _over_goal(calls, step.goal)]
    rows.append(Row(NAME, f"calls: routes above their goal (TTL {CACHE_TTL} s, warm cache)",
                    f"{len(over)} of {len(measured)}", "routes", "0"))
    return rows


# ---- what a referral's notices cost ------------------------------------------------------


class _KmsCalls:
    def __init__(self) -> None:
        self.count = 0

    def on_call(self, **_: Any) -> None:
        self.count += 1


def _ses_sent() -> int:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from chalicelib.settings import get_settings

    return len(ses_backends[DEFAULT_ACCOUNT_ID][get_settings().region].sent_messages)


def _notice_rows(w: World) -> list[Row]:
    """POST /api/referrals and its PATCH to accepted with the default notices (receiver,
    then sender mailed), then with the configuration turning both off, on a warm process:
    DynamoDB calls, KMS calls (``before-call.kms``) and SES sends of each."""
    from chalice.test import Client

    from app import app
    from chalicelib import aws

    tenant = create_tenant("bench-notices")
    admin = w.key.token(tenant_id=tenant.id, role="tenant_admin")
    kms = _KmsCalls()
    rows: list[Row] = []
    aws.install_session_hook("before-call.kms", kms.on_call)
    try:
        with Client(app, project_dir=str(w.project_dir)) as client:
            api = Api(client.http, admin)
            fixtures, _ = _fixtures(api, "bench-pro-sub", "bench-customer-sub")
            body = {"from_professional_id": fixtures["pro_a"], "to_professional_id": fixtures["pro_b"],
                    "customer_id": fixtures["customer"], "service_category": fixtures["category"]}

            def create_and_accept(label: str) -> None:
                for verb in ("POST", "PATCH"):
                    kms.count, sent = 0, _ses_sent()
                    with _recorder.counting() as calls:
                        if verb == "POST":
                            created, headers = api.call("POST", "/api/referrals", body, expect=201)
                        else:
                            api.call("PATCH", f"/api/referrals/{created['id']}", {"status": "accepted"},
                                     headers=_if_match(headers))
                    route = "POST /api/referrals" if verb == "POST" else "PATCH /api/referrals/{id} -> accepted"
                    rows.append(Row(NAME, f"notices: {route}, {label}", calls.summary(), calls.operation_names(),
                                    f"{kms.count} KMS, {_ses_sent() - sent} SES"))

            api.call("POST", "/api/referrals", body, expect=201)  # uncounted: warm caches
            create_and_accept("default notices (receiver, then sender mailed)")
            _, headers = api.call("GET", "/api/tenant/config")
            off = {"email": [], "sms": []}
            api.call("PUT", "/api/tenant/config", {"overrides": {"notifications": {
                "referral_created": off, "referral_accepted": off}}}, headers=_if_match(headers))
            create_and_accept("notices configured off")
    finally:
        aws.remove_session_hook("before-call.kms", kms.on_call)
    return rows


# ---- list latency against the number of tenants ------------------------------------------


def _bound(tenant: Any) -> Any:
    from chalicelib.tenancy.context import TenantContext, bound

    return bound(TenantContext(tenant=tenant, request_id="bench-seed"))


def _seed_professionals(tenant: Any, count: int) -> None:
    """``count`` professionals as the create route lays them out (PRO and PROEMAIL), batch-written."""
    from chalicelib.crypto.blind_index import blind_index, normalise_email
    from chalicelib.network.professionals.service import EMAIL_PURPOSE, PII
    from chalicelib.store import data, keys
    from chalicelib.store.data import DataItem

    now = "2024-01-01T00:00:00.000Z"
    with _bound(tenant):
        items = []
        for i in range(count):
            pid = str(uuid.uuid4())
            email = f"pro-{i}@{tenant.slug}.example.com"
            fields = {"business_name": f"Shop {i}", "contact_name": "Pat", "email": email, "phone": None,
                      "license_number": None, "address": None, "service_categories": [], "status": "active",
                      "user_sub": None}
            items.append(data.new_item(
                pk=data.partition(keys.PROFESSIONAL), sk=pid, kind=keys.PROFESSIONAL, entity_id=pid,
                status="active", version=1, created_at=now, updated_at=now, refs=0,
                data=data.dumps({k: v for k, v in fields.items() if k not in PII}),
                pii=data.dumps({k: v for k, v in fields.items() if k in PII})))
            items.append(data.new_item(
                pk=data.partition(keys.PROFESSIONAL_EMAIL), sk=blind_index(EMAIL_PURPOSE, normalise_email(email)),
                kind=keys.PROFESSIONAL_EMAIL, entity_id=pid))
        with DataItem.batch_write() as batch:
            for item in items:
                batch.save(item)


def _add_other_tenants(start: int, stop: int, per_tenant: int) -> None:
    for i in range(start, stop):
        _seed_professionals(create_tenant(f"bench-other-{i:04d}"), per_tenant)


def _raw_query(tenant: Any) -> Callable[[], None]:
    """The list's Query alone, straight through boto3 (what moto itself costs)."""
    from chalicelib import aws
    from chalicelib.settings import get_settings
    from chalicelib.store import keys

    table, client = get_settings().data_table, aws.client("dynamodb")
    partition = keys.data_partition(tenant.id, keys.PROFESSIONAL)

    def query() -> None:
        with _bound(tenant):
            found = client.query(TableName=table, KeyConditionExpression="pk = :p", Limit=25,
                                 ExpressionAttributeValues={":p": {"S": partition}})
        if found["Count"] != 25:
            raise RuntimeError(f"raw query returned {found['Count']} items")

    return query


def _interleaved(fns: list[Callable[[], Any]], iterations: int, warmup: int) -> list[list[float]]:
    """Each fn timed ``iterations`` times, in turn, so that drift falls on all alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(iterations):
        for fn, out in zip(fns, samples, strict=True):
            started = time.perf_counter()
            fn()
            out.append(time.perf_counter() - started)
    return samples


def _latency_rows(w: World, others: int, per_other: int, own: int, iterations: int, warmup: int) -> list[Row]:
    from chalice.test import Client

    from app import app
    from chalicelib.network.professionals.models import ProfessionalCreate
    from chalicelib.network.professionals.service import create_professional
    from chalicelib.store import keys

    tenant = create_tenant("bench-measured", plan="standard")  # 50 professionals: over the free plan's 25
    with _bound(tenant):
        for i in range(own):
            create_professional(ProfessionalCreate(business_name=f"Garage {i}", contact_name="Alex",
                                                   email=f"alex-{i}@measured.example.com"))
    _add_other_tenants(0, 1, per_other)

    path = "/api/professionals?limit=25"
    with Client(app, project_dir=str(w.project_dir)) as client:
        api = Api(client.http, w.key.token(tenant_id=tenant.id))

        def list_page() -> None:
            body, _ = api.call("GET", path)
            if len(body["items"]) != 25 or not body["next_cursor"]:
                raise RuntimeError(f"GET {path} returned {len(body['items'])} items")

        raw = _raw_query(tenant)
        before_route, before_raw = _interleaved([list_page, raw], iterations, warmup)
        seed_started = time.perf_counter()
        _add_other_tenants(1, others, per_other)
        seed_seconds = time.perf_counter() - seed_started
        after_route, after_raw = _interleaved([list_page, raw], iterations, warmup)
        with _recorder.counting() as calls:
            list_page()

    def ms(samples: list[float]) -> float:
        return median(samples) * 1000

    # Each route request is timed next to its Query alone: the median of those paired
    # differences is what the app adds to DynamoDB (JWT, resolution, models, JSON).
    own_cost_before = median([r - q for r, q in zip(before_route, before_raw, strict=True)])
    own_cost_after = median([r - q for r, q in zip(after_route, after_raw, strict=True)])
    partition = keys.data_partition(tenant.id, keys.PROFESSIONAL)
    query = calls.queries[0] if calls.queries else {}
    on_partition = {"S": partition} in query.get("ExpressionAttributeValues", {}).values()
    items_after = others * per_other * 2 + own * 2  # a PRO and a PROEMAIL item per professional
    many = f"{others} other tenants"
    return [
        Row(NAME, f"list: GET {path}, 1 other tenant, median", ms(before_route), "ms",
            f"{own} own professionals, {per_other} per other tenant"),
        Row(NAME, f"list: GET {path}, {many}, median", ms(after_route), "ms", f"~{items_after} data items"),
        Row(NAME, f"list: route median ratio, {many} / 1", ratio(median(after_route), median(before_route)), "x",
            "<= 1.1"),
        Row(NAME, "list: its Query alone (boto3, same page), 1 other tenant, median", ms(before_raw), "ms"),
        Row(NAME, f"list: its Query alone, {many}, median", ms(after_raw), "ms"),
        Row(NAME, f"list: Query-alone median ratio, {many} / 1", ratio(median(after_raw), median(before_raw)), "x",
            "moto walks every item of the table"),
        Row(NAME, "list: app's own cost (median of route - Query pairs), 1 other tenant", own_cost_before * 1000, "ms"),
        Row(NAME, f"list: app's own cost (median of route - Query pairs), {many}", own_cost_after * 1000, "ms"),
        Row(NAME, f"list: app's own cost ratio, {many} / 1", ratio(own_cost_after, own_cost_before), "x",
            "<= 1.1"),
        Row(NAME, "list: DynamoDB calls of one list request", calls.summary(), calls.operation_names(), _GOAL_READ),
        Row(NAME, "list: that Query's key condition and filter",
            "own PRO partition" if on_partition else "NOT the own partition",
            f"FilterExpression: {'yes' if 'FilterExpression' in query else 'none'}", "own partition, no filter"),
        Row(NAME, f"list: samples per state; seeding {others - 1} more tenants", f"{iterations}; {seed_seconds:.1f} s",
            "", f"resolution cache TTL {CACHE_TTL} s"),
    ]


def run(quick: bool = False) -> list[Row]:
    others, iterations, warmup = (20, 30, 3) if quick else (200, 60, 5)
    install_call_recorder()
    with world({"TENANT_CACHE_TTL_SECONDS": CACHE_TTL}) as w, quiet_request_logs():
        rows = _call_rows(w)
        rows += _notice_rows(w)
        rows += _latency_rows(w, others=others, per_other=20, own=50, iterations=iterations, warmup=warmup)
    return rows
