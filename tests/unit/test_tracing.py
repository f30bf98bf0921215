"""Tracing: where Lambda traces, each request's subsegment and every AWS call under it (a
subsegment per call, named for the service) carry the tenant id; where it does not, the
X-Ray SDK is never imported. Run in a subprocess: patching botocore is process-wide."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.conftest import ROOT

SCRIPT = r'''
import json, sys
from moto import mock_aws
from chalicelib import aws, tracing
from chalicelib.logs import bind_log_keys

sent = []

class Capture:
    """The recorder's emitter: keeps what would go to the daemon."""
    ip, port = "127.0.0.1", 2000
    def send_entity(self, entity):
        sent.append(entity.to_dict())
    def set_daemon_address(self, address):
        pass

recorder = tracing.recorder()
recorder.configure(emitter=Capture(), sampling=False)
with mock_aws():
    recorder.begin_segment("test")
    bind_log_keys(tenant_id="tenant-1")
    with tracing.subsegment("## create_referral"):
        aws.client("kms", "us-east-1").create_key()
        aws.client("dynamodb", "us-east-1").list_tables()
        aws.client("sqs", "us-east-1").list_queues()
    recorder.end_segment()
print()
json.dump(sent, sys.stdout)
'''


def _run(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "AWS_XRAY"))}
    environment.update({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
                        **env})
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=300, check=False)


def _walk(entity: dict[str, Any]) -> list[dict[str, Any]]:
    found = [entity]
    for child in entity.get("subsegments", []):
        found += _walk(child)
    return found


def test_aws_calls_are_subsegments_annotated_with_the_tenant():
    done = _run(SCRIPT, AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:2000")
    assert done.returncode == 0, done.stderr[-3000:]
    [segment] = json.loads(done.stdout.splitlines()[-1])  # after the EMF lines of the KMS call
    entities = {e["name"]: e for e in _walk(segment)}
    request = entities["## create_referral"]
    assert request["annotations"]["tenant_id"] == "tenant-1"
    for service in ("kms", "dynamodb", "sqs"):
        assert entities[service]["annotations"]["tenant_id"] == "tenant-1", service
        assert entities[service]["namespace"] == "aws"
    assert {c["name"] for c in request["subsegments"]} == {"kms", "dynamodb", "sqs"}


def test_without_the_daemon_nothing_is_imported_or_traced():
    script = ("import sys\nfrom chalicelib import tracing\nwith tracing.subsegment('x'):\n    tracing.annotate(a=1)\n"
              "print('aws_xray_sdk' in sys.modules)")
    done = _run(script)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "False"
