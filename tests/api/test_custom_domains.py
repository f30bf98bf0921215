"""Tenants' custom domains: PUT /api/admin/tenants/{id} makes and removes their ACM
certificate and API Gateway domain name, GET .../domains reports their state, the
``custom_domains`` schedule advances them; an AWS failure at any step is finished by a retry.

moto's ACM leaves a DNS-validated certificate PENDING_VALIDATION for a minute (then
reports it ISSUED): ``validate`` plays the tenant publishing the CNAME and ACM issuing.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.acm.models import acm_backends

from app import app
from chalicelib import aws
from chalicelib.domains import gateway, records, service
from chalicelib.local.pump import LocalLambdaContext, scheduled_event
from tests.conftest import body_of

ADMIN = "platform_admin"
DOMAIN = "book.rapid.example"
ACCOUNT, REGION = "123456789012", "us-east-1"


def create(client, slug: str = "rapid", **fields: Any) -> dict[str, Any]:
    response = client.request("POST", "/api/admin/tenants", role=ADMIN, body={
        "slug": slug, "name": slug.title(), "display_name": slug.title(), "admin_email": f"owner@{slug}.example",
        **fields})
    assert response.status_code == 201, response.body
    return body_of(response)


def put_domains(client, tenant: dict[str, Any], domains: list[str]) -> Any:
    current = client.get(f"/api/admin/tenants/{tenant['id']}", role=ADMIN)
    return client.request("PUT", f"/api/admin/tenants/{tenant['id']}", role=ADMIN, body={"domains": domains},
                          headers={"If-Match": current.headers["ETag"]})


def domains_of(client, tenant: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = client.get(f"/api/admin/tenants/{tenant['id']}/domains", role=ADMIN)
    assert response.status_code == 200, response.body
    return {d["domain"]: d for d in body_of(response)["items"]}


def certificates() -> dict[str, Any]:
    """Every certificate in (moto's) ACM: ARN -> its description."""
    acm = aws.client("acm")
    return {c["CertificateArn"]: acm.describe_certificate(CertificateArn=c["CertificateArn"])["Certificate"]
            for c in acm.list_certificates()["CertificateSummaryList"]}


def validate(domain: str, status: str = "ISSUED") -> None:
    """ACM's verdict on the domain's certificate (the tenant published the CNAME, or never did)."""
    state = records.get(domain)
    assert state is not None and state.certificate_arn is not None
    acm_backends[ACCOUNT][REGION]._certificates[state.certificate_arn].status = status


def run_schedule() -> dict[str, Any]:
    return app.handler_map["custom_domains"](scheduled_event("custom_domains", REGION),
                                             LocalLambdaContext("custom_domains"))


def gateway_domain(domain: str) -> dict[str, Any] | None:
    try:
        return aws.client("apigateway").get_domain_name(domainName=domain)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NotFoundException"
        return None


@contextmanager
def failing(service: str, operation: str, code: str = "ServiceUnavailable") -> Iterator[list[str]]:
    """``operation`` of ``service`` fails (as AWS would answer) until the block ends; the calls it refused."""
    refused: list[str] = []

    def refuse(**_kwargs: Any) -> None:
        refused.append(operation)
        raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    events = aws.client(service).meta.events
    events.register(f"before-call.{service}.{operation}", refuse)
    try:
        yield refused
    finally:
        events.unregister(f"before-call.{service}.{operation}", refuse)


@pytest.fixture
def tenant(client) -> dict[str, Any]:
    return create(client)


@pytest.fixture
def ready(client, tenant) -> dict[str, Any]:
    """The tenant with DOMAIN ready."""
    assert put_domains(client, tenant, [DOMAIN]).status_code == 200
    validate(DOMAIN)
    run_schedule()
    assert domains_of(client, tenant)[DOMAIN]["status"] == "ready"
    return tenant


def test_a_new_domain_gets_a_dns_validated_certificate_and_reports_its_record(client, tenant):
    response = put_domains(client, tenant, [DOMAIN])

    assert response.status_code == 200 and body_of(response)["domains"] == [DOMAIN]
    [(arn, certificate)] = certificates().items()
    assert certificate["DomainName"] == DOMAIN and certificate["Status"] == "PENDING_VALIDATION"
    tags = aws.client("acm").list_tags_for_certificate(CertificateArn=arn)["Tags"]
    assert {"Key": "tenant_id", "Value": tenant["id"]} in tags
    view = domains_of(client, tenant)[DOMAIN]
    assert view["status"] == "pending_validation" and view["target"] is None
    record = view["validation_record"]
    assert record["type"] == "CNAME" and record["name"].endswith(f".{DOMAIN}.")
    assert record["value"] == certificate["DomainValidationOptions"][0]["ResourceRecord"]["Value"]
    assert gateway_domain(DOMAIN) is None


def test_an_issued_certificate_becomes_a_ready_domain_on_the_schedule(client, tenant):
    put_domains(client, tenant, [DOMAIN])
    validate(DOMAIN)

    assert run_schedule() == {"domains": 1}

    made = gateway_domain(DOMAIN)
    assert made is not None and made["regionalCertificateArn"] == records.get(DOMAIN).certificate_arn
    assert made["endpointConfiguration"]["types"] == ["REGIONAL"] and made["securityPolicy"] == "TLS_1_2"
    [mapping] = aws.client("apigateway").get_base_path_mappings(domainName=DOMAIN)["items"]
    assert mapping["restApiId"] == gateway._api_id() and mapping["stage"] == gateway.API_STAGE
    view = domains_of(client, tenant)[DOMAIN]
    assert view["status"] == "ready"
    assert view["target"] == {"domain_name": made["regionalDomainName"], "hosted_zone_id": made["regionalHostedZoneId"]}
    assert run_schedule() == {"domains": 0}  # nothing left to do: out of the work index


def test_get_advances_a_pending_domain_itself(client, tenant):
    put_domains(client, tenant, [DOMAIN])
    validate(DOMAIN)

    assert domains_of(client, tenant)[DOMAIN]["status"] == "ready"
    assert gateway_domain(DOMAIN) is not None


def test_a_certificate_acm_gives_up_on_is_reported_failed(client, tenant):
    put_domains(client, tenant, [DOMAIN])
    validate(DOMAIN, "VALIDATION_TIMED_OUT")

    run_schedule()

    view = domains_of(client, tenant)[DOMAIN]
    assert view["status"] == "failed" and view["reason"] == "certificate_validation_timed_out"
    assert gateway_domain(DOMAIN) is None and run_schedule() == {"domains": 0}


def test_unmapping_a_domain_removes_its_mapping_domain_name_and_certificate(client, ready):
    response = put_domains(client, ready, [])

    assert response.status_code == 200
    assert gateway_domain(DOMAIN) is None and certificates() == {}
    assert records.get(DOMAIN) is None and domains_of(client, ready) == {}


def test_deleting_the_tenant_removes_its_domains_resources(client, ready):
    assert client.request("DELETE", f"/api/admin/tenants/{ready['id']}", role=ADMIN).status_code == 204

    assert gateway_domain(DOMAIN) is None and certificates() == {} and records.get(DOMAIN) is None
    # Repeating the DELETE finds nothing left to remove.
    assert client.request("DELETE", f"/api/admin/tenants/{ready['id']}", role=ADMIN).status_code == 204


def test_a_failed_mapping_is_completed_by_the_next_run(client, tenant):
    put_domains(client, tenant, [DOMAIN])
    validate(DOMAIN)
    with failing("apigateway", "CreateBasePathMapping") as refused:
        run_schedule()
        assert domains_of(client, tenant)[DOMAIN]["status"] == "pending_validation"
    assert refused == ["CreateBasePathMapping"] * 2  # the schedule's attempt, then the GET's
    assert gateway_domain(DOMAIN) is not None  # made before the mapping failed

    run_schedule()

    assert domains_of(client, tenant)[DOMAIN]["status"] == "ready"
    assert len(aws.client("apigateway").get_base_path_mappings(domainName=DOMAIN)["items"]) == 1


def test_a_failed_certificate_request_leaves_the_domain_pending_for_the_schedule(client, tenant):
    with failing("acm", "RequestCertificate"):
        assert put_domains(client, tenant, [DOMAIN]).status_code == 200
        view = domains_of(client, tenant)[DOMAIN]
    assert view["status"] == "pending_validation" and view["validation_record"] is None
    assert certificates() == {}

    run_schedule()

    assert len(certificates()) == 1 and domains_of(client, tenant)[DOMAIN]["validation_record"] is not None


def test_a_certificate_still_in_use_is_deleted_by_a_later_run_and_holds_the_domain_until_then(client, ready):
    other = create(client, "other")
    with failing("acm", "DeleteCertificate", code="ResourceInUseException"):
        assert put_domains(client, ready, []).status_code == 200
        assert gateway_domain(DOMAIN) is None and len(certificates()) == 1
        assert records.get(DOMAIN).status == records.DomainStatus.REMOVING
        # Its reservation is released, but API Gateway's name is not free until the removal ends.
        refused = put_domains(client, other, [DOMAIN])
        assert refused.status_code == 409 and body_of(refused)["conflict"] == "domain_removal_pending"
        assert body_of(client.get(f"/api/admin/tenants/{other['id']}", role=ADMIN))["domains"] == []

    assert run_schedule() == {"domains": 1}

    assert certificates() == {} and records.get(DOMAIN) is None
    assert put_domains(client, other, [DOMAIN]).status_code == 200
    assert domains_of(client, other)[DOMAIN]["status"] == "pending_validation"


def test_another_tenants_domain_cannot_be_claimed(client, ready):
    other = create(client, "other")

    response = put_domains(client, other, [DOMAIN])

    assert response.status_code == 409 and body_of(response)["conflict"] == "domain_taken"
    assert len(certificates()) == 1 and str(records.get(DOMAIN).tenant_id) == ready["id"]
    assert domains_of(client, other) == {} and domains_of(client, ready)[DOMAIN]["status"] == "ready"


def test_a_tenant_created_with_a_domain_gets_its_certificate(client):
    created = create(client, domains=[DOMAIN])

    view = domains_of(client, created)[DOMAIN]
    assert view["status"] == "pending_validation" and view["validation_record"] is not None
    [certificate] = certificates().values()
    assert certificate["DomainName"] == DOMAIN


@pytest.mark.parametrize("role", ["tenant_admin", "customer", None])
def test_only_super_admins_see_a_tenants_domains(client, tenant, role):
    response = client.get(f"/api/admin/tenants/{tenant['id']}/domains", role=role, tenant=tenant["id"])

    assert response.status_code in ((401,) if role is None else (403,))


def test_waiting_domains_go_to_the_back_so_a_bounded_run_reaches_the_others(client, tenant, monkeypatch):
    monkeypatch.setattr(service, "PAGE_SIZE", 1)
    monkeypatch.setattr(service, "MAX_PAGES", 1)
    put_domains(client, tenant, [DOMAIN])
    put_domains(client, tenant, [DOMAIN, "shop.rapid.example"])
    validate("shop.rapid.example")  # the newer one is ready to go, the older one waits on DNS

    assert run_schedule() == {"domains": 1}  # the older one: nothing to do yet
    assert records.get("shop.rapid.example").status == records.DomainStatus.PENDING_VALIDATION
    run_schedule()

    assert records.get("shop.rapid.example").status == records.DomainStatus.READY
    assert records.get(DOMAIN).status == records.DomainStatus.PENDING_VALIDATION
