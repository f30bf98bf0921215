"""The usage-key authorizer run as Lambda runs it: its registered handler, a TOKEN event.

tests/api/test_usage_plans.py checks what it answers by calling its service function;
this goes through the function API Gateway invokes, so the deployment contract
(tests/infra/test_contract.py) records what the authorizer's own role must allow.
"""
from __future__ import annotations

import importlib

from app import app
from chalicelib.ratelimit import authorizer, usage_plans

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/GET/api/tenant"


def _registered() -> object:
    [auth] = [a for a in app.builtin_auth_handlers if a.name == authorizer.AUTHORIZER_NAME]
    module, _, attribute = auth.handler_string.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def test_a_platform_admins_token_gets_the_platform_key_through_the_lambda_entry_point(aws_mock, tokens):
    authorizer.key_values.clear()
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {tokens.token(role='platform_admin')}",
             "methodArn": METHOD_ARN}

    answer = _registered()(event, None)

    assert answer["usageIdentifierKey"] == usage_plans.find_key(usage_plans.platform_key_name())["value"]
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
