"""What the custom domains' ACM grants cannot be turned to, judged by evaluating the
synthesized policies (the contract, test_contract.py, proves the calls made are allowed).

The roles that request tenants' certificates (chalicelib/domains) must not request an
untagged one, nor one with other tags, and must not describe or delete a certificate that
carries no tenant tag: the stage's own certificates (the platform domain's, infra's) or
any other in the account. No other function may touch certificates at all.
"""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import local_stage_env
from tests.infra.conftest import STAGES
from tests.infra.deployment import ACCOUNT, REGION, Deployment
from tests.infra.iam_eval import ALLOW, Request, evaluate

TENANT = str(uuid.uuid4())
CERTIFICATE = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/{uuid.uuid4()}"
CERTIFYING = ("api_handler", "custom_domains")


@pytest.fixture(scope="module", params=STAGES)
def deployment(request: pytest.FixtureRequest, templates: dict[str, dict[str, Any]]) -> Deployment:
    return Deployment(templates[request.param], local_stage_env())


def _allowed(deployment: Deployment, function: str, action: str, resource: str, context: dict[str, Any]) -> bool:
    role = deployment.role_of_function(function)
    arn = deployment.arn(role)
    return evaluate(deployment.role_policies(role), Request(action, resource, arn,
                                                            {"aws:PrincipalArn": arn, **context})) == ALLOW


@pytest.mark.parametrize("function", CERTIFYING)
def test_a_certificate_is_requested_only_with_the_tenant_tag_alone(deployment, function):
    tagged = {"aws:RequestTag/tenant_id": TENANT, "aws:TagKeys": ["tenant_id"]}
    assert _allowed(deployment, function, "acm:RequestCertificate", "*", tagged)

    assert not _allowed(deployment, function, "acm:RequestCertificate", "*", {})
    assert not _allowed(deployment, function, "acm:RequestCertificate", "*",
                        {**tagged, "aws:RequestTag/team": "x", "aws:TagKeys": ["tenant_id", "team"]})


@pytest.mark.parametrize("action", ["acm:DescribeCertificate", "acm:DeleteCertificate"])
@pytest.mark.parametrize("function", CERTIFYING)
def test_only_tenant_tagged_certificates_are_described_or_deleted(deployment, function, action):
    assert _allowed(deployment, function, action, CERTIFICATE, {"aws:ResourceTag/tenant_id": TENANT})

    assert not _allowed(deployment, function, action, CERTIFICATE, {})
    assert not _allowed(deployment, function, action, CERTIFICATE, {"aws:ResourceTag/Name": "platform"})


def test_no_other_function_touches_certificates(deployment):
    others = [f for f in deployment.function_logical_ids() if f not in CERTIFYING]
    assert others
    for function in others:
        for action in ("acm:RequestCertificate", "acm:DescribeCertificate", "acm:DeleteCertificate"):
            assert not _allowed(deployment, function, action, CERTIFICATE,
                                {"aws:ResourceTag/tenant_id": TENANT, "aws:RequestTag/tenant_id": TENANT,
                                 "aws:TagKeys": ["tenant_id"]}), (function, action)
