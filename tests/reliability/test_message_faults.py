"""The key-rotation queue under redelivery and poison messages.

SQS delivers at least once: a message may arrive twice (a visibility timeout that ran out
while the first delivery worked), late (after the rotation finished), or malformed. The
handler must finish the rotation exactly once whatever the duplicates, acknowledge a stale
duplicate without doing anything, and report a poison message as failed (so SQS retries it
and then dead-letters it, see tests/integration/test_event_pump.py) without touching the
tenant, while the other messages of the same batch succeed.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from chalicelib.store import keys as store_keys
from chalicelib.store import registry
from tests.api.test_key_rotation import grace, rotate, stored_rotation  # noqa: F401 - fixture used by name
from tests.audit_helpers import stored_events
from tests.security.encryption_support import (
    deliver,
    keys_of_sealed,
    populate,
    raw_partition,
    take_messages,
)


def message(tenant_id: str | None, body: Any, message_id: str | None = None) -> dict[str, Any]:
    attributes = {"tenant_id": {"StringValue": tenant_id, "DataType": "String"}} if tenant_id else {}
    return {"MessageId": message_id or str(uuid.uuid4()), "MessageAttributes": attributes,
            "Body": body if isinstance(body, str) else json.dumps(body)}


def deliver_batch(messages: list[dict[str, Any]]) -> list[str]:
    """Several records in one event, as Lambda batches them; the ids reported failed."""
    from app import app
    from chalicelib.local.pump import LocalLambdaContext

    records = [{"messageId": m["MessageId"], "receiptHandle": "r", "body": m["Body"], "attributes": {},
                "messageAttributes": {k: {"stringValue": v["StringValue"], "dataType": v["DataType"]}
                                      for k, v in m["MessageAttributes"].items()},
                "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q"} for m in messages]
    result = app.handler_map["key_rotation"]({"Records": records}, LocalLambdaContext("key_rotation"))
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


def rotation_state(tenant) -> tuple[Any, ...]:
    current = registry.get_tenant(tenant.id)
    return (current.kms_key_arn, current.previous_kms_key_arns,
            raw_partition(tenant, store_keys.data_partition(tenant.id, store_keys.KEY_ROTATION)),
            keys_of_sealed(tenant))


def test_a_duplicated_message_finishes_the_rotation_once(client, tenant_a, grace):  # noqa: F811
    populate(client, tenant_a)
    assert rotate(client, str(tenant_a.id)).status_code == 202
    [first] = take_messages()
    # When the same message is delivered twice in a row, and once more after the rotation ended
    assert deliver(first) == []
    assert deliver(first) == []
    finished = rotation_state(tenant_a)
    assert deliver(first) == []
    # Then the rotation finished once: one new key, documents under it, one audit event
    done = registry.get_tenant(tenant_a.id)
    assert done.previous_kms_key_arns == () and keys_of_sealed(done) == {frozenset({done.kms_key_arn})}
    assert rotation_state(tenant_a) == finished
    assert stored_rotation(tenant_a).status.value == "complete"
    assert len([e for e in stored_events(tenant_a) if e["action"] == "key.rotated"]) == 1
    assert take_messages() == []  # nothing re-enqueued by the duplicates


def test_a_message_for_an_older_rotation_is_acknowledged_and_ignored(client, tenant_a, grace):  # noqa: F811
    assert rotate(client, str(tenant_a.id)).status_code == 202
    [first] = take_messages()
    assert deliver(first) == []
    assert rotate(client, str(tenant_a.id)).status_code == 202  # a second rotation starts
    second_state = rotation_state(tenant_a)
    assert deliver(first) == []  # the first rotation's message, redelivered late
    assert rotation_state(tenant_a) == second_state


POISON = {
    "not-json": lambda t: message(t, "{not json"),
    "json-array": lambda t: message(t, [t]),
    "no-rotation-id": lambda t: message(t, {"tenant_id": t}),
    "rotation-id-a-number": lambda t: message(t, {"tenant_id": t, "rotation_id": 7}),
    "rotation-id-empty": lambda t: message(t, {"tenant_id": t, "rotation_id": ""}),
    "no-tenant-attribute": lambda t: message(None, {"tenant_id": t, "rotation_id": "r"}),
    "tenants-disagree": lambda t: message(t, {"tenant_id": str(uuid.uuid4()), "rotation_id": "r"}),
    "tenant-not-a-uuid": lambda t: message("acme", {"tenant_id": "acme", "rotation_id": "r"}),
    "unknown-tenant": lambda t: message(str(uuid.UUID(int=1)), {"tenant_id": str(uuid.UUID(int=1)),
                                                                 "rotation_id": "r"}),
}


@pytest.mark.parametrize("kind", sorted(POISON))
def test_a_poison_message_fails_alone_and_touches_nothing(client, tenant_a, tenant_b, grace, kind):  # noqa: F811
    # Given a rotation waiting in tenant B, and a poison message beside B's real message
    assert rotate(client, str(tenant_b.id)).status_code == 202
    [real] = take_messages()
    poison = POISON[kind](str(tenant_a.id))
    before_a = rotation_state(tenant_a)
    # When both arrive in one batch
    failed = deliver_batch([poison, real])
    # Then only the poison is reported failed (to be retried, then dead-lettered) ...
    assert failed == [poison["MessageId"]]
    # ... tenant A is untouched, and B's rotation completed
    assert rotation_state(tenant_a) == before_a
    assert stored_rotation(tenant_b).status.value == "complete"
