"""A stage given its platform domain answers on ``<domain>`` and every ``*.<domain>``.

Tenant resolution by subdomain (``acme.<domain>`` is tenant ``acme``) cannot work without
a custom domain for the wildcard, its certificate, its mapping to the API stage and its
DNS record; a stage without a domain gets none of them.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.conftest import STAGES, Synthesis, resources
from tests.infra.synthesize import DOMAIN_CONTEXT

DOMAIN = DOMAIN_CONTEXT["domain"]


@pytest.fixture(scope="module")
def template(synthesis: Synthesis) -> dict[str, Any]:
    assert synthesis.returncode == 0, synthesis.output[-4000:]
    assert synthesis.domain_template is not None
    return synthesis.domain_template


def test_the_domain_and_its_wildcard_are_api_domains_with_a_dns_validated_certificate(template):
    [(cert_id, certificate)] = resources(template, "AWS::CertificateManager::Certificate").items()
    assert certificate["Properties"]["DomainName"] == DOMAIN
    assert certificate["Properties"]["SubjectAlternativeNames"] == [f"*.{DOMAIN}"]
    assert certificate["Properties"]["ValidationMethod"] == "DNS"
    domains = {d["Properties"]["DomainName"]: (name, d["Properties"])
               for name, d in resources(template, "AWS::ApiGateway::DomainName").items()}
    assert set(domains) == {DOMAIN, f"*.{DOMAIN}"}
    for _, props in domains.values():
        assert props["RegionalCertificateArn"] == {"Ref": cert_id}
        assert props["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
        assert props["SecurityPolicy"] == "TLS_1_2"
    mappings = {m["Properties"]["DomainName"]["Ref"]: m["Properties"]
                for m in resources(template, "AWS::ApiGateway::BasePathMapping").values()}
    assert set(mappings) == {name for name, _ in domains.values()}
    assert all(m["RestApiId"] == {"Ref": "RestAPI"} and m["Stage"] == {"Ref": "RestAPI.Stage"}
               for m in mappings.values())
    records = [r["Properties"] for r in resources(template, "AWS::Route53::RecordSet").values()]
    assert sorted(r["Name"] for r in records) == sorted([f"{DOMAIN}.", f"*.{DOMAIN}."])
    assert all(r["Type"] == "A" and r["HostedZoneId"] == DOMAIN_CONTEXT["hosted_zone_id"] for r in records)


def test_with_a_domain_the_stage_passes_the_same_checks(synthesis: Synthesis, template):
    from cfnlint.api import lint  # as test_synth.py: cfn-lint loads its rules on import

    assert synthesis.domain_report is not None
    assert all(p["conclusion"] == "success" for p in synthesis.domain_report["pluginReports"])
    assert [str(m) for m in lint(json.dumps(template), regions=["us-east-1"])] == []


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_without_a_domain_has_none(templates, stage):
    assert resources(templates[stage], "AWS::ApiGateway::DomainName") == {}
    assert resources(templates[stage], "AWS::CertificateManager::Certificate") == {}
