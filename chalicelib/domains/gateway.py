"""ACM and API Gateway, as the custom domains need them: the one module that calls them.

Each function is idempotent, so any step of a domain's setup or removal can be repeated
after a failure: requesting a certificate carries an idempotency token (ACM returns the
same certificate for the same token within an hour), "already exists" and "not found"
are answers, not errors.

The REST API is looked up by name (``<app>-<stage>``, the name infra gives it): passing
its id to the functions in their environment would make a CloudFormation cycle (the API
refers to the functions). Its stage is Chalice's, ``api``.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from uuid import UUID

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.settings import get_settings

API_STAGE = "api"
TENANT_TAG = "tenant_id"
# ACM's states that will never become ISSUED: the domain has failed until it is unmapped.
FAILED_CERTIFICATE = frozenset({"FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE"})

_lock = threading.Lock()
_api_ids: dict[str, str] = {}


class ApiNotFoundError(Exception):
    """No REST API of this stage's name in the account and region (not deployed yet)."""


@dataclass(frozen=True)
class Certificate:
    status: str
    validation_name: str | None
    validation_value: str | None


@dataclass(frozen=True)
class Target:
    domain_name: str
    hosted_zone_id: str


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def api_name() -> str:
    settings = get_settings()
    return f"{settings.app_name}-{settings.stage}"


def _api_id() -> str:
    name = api_name()
    with _lock:
        if name in _api_ids:
            return _api_ids[name]
    for page in aws.client("apigateway").get_paginator("get_rest_apis").paginate():
        for api in page.get("items", []):
            if api.get("name") == name:
                with _lock:
                    _api_ids[name] = api["id"]
                return str(api["id"])
    raise ApiNotFoundError(f"no REST API named {name}")


def forget_api() -> None:
    """Forget the looked-up API id (the process reset: tests make a new API per world)."""
    with _lock:
        _api_ids.clear()


aws.on_reset(forget_api)


def request_certificate(domain: str, tenant_id: UUID, generation: str) -> str:
    """A DNS-validated certificate for ``domain``, tagged with the tenant; its ARN."""
    token = hashlib.sha256(generation.encode()).hexdigest()[:32]
    response = aws.client("acm").request_certificate(
        DomainName=domain, ValidationMethod="DNS", IdempotencyToken=token,
        Tags=[{"Key": TENANT_TAG, "Value": str(tenant_id)}])
    return str(response["CertificateArn"])


def describe_certificate(arn: str) -> Certificate:
    certificate = aws.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    # ACM adds the validation record a few seconds after the request: None until then.
    record = next((o["ResourceRecord"] for o in certificate.get("DomainValidationOptions", [])
                   if o.get("ResourceRecord")), None)
    return Certificate(status=str(certificate["Status"]), validation_name=record["Name"] if record else None,
                       validation_value=record["Value"] if record else None)


def delete_certificate(arn: str) -> bool:
    """Delete the certificate; False while ACM still counts it in use (it learns of a deleted
    API Gateway domain name some minutes later): retry then."""
    try:
        aws.client("acm").delete_certificate(CertificateArn=arn)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return True
        if _code(exc) == "ResourceInUseException":
            return False
        raise
    return True


def create_domain_name(domain: str, certificate_arn: str, tenant_id: UUID) -> Target:
    """The regional API Gateway domain name served with the certificate (or the existing one)."""
    client = aws.client("apigateway")
    try:
        made = client.create_domain_name(
            domainName=domain, regionalCertificateArn=certificate_arn, endpointConfiguration={"types": ["REGIONAL"]},
            securityPolicy="TLS_1_2", tags={TENANT_TAG: str(tenant_id)})
    except ClientError as exc:
        if _code(exc) != "ConflictException":
            raise
        made = client.get_domain_name(domainName=domain)
    return Target(domain_name=str(made["regionalDomainName"]), hosted_zone_id=str(made["regionalHostedZoneId"]))


def map_to_api(domain: str) -> None:
    """The domain's root mapped to the API's stage (kept if it is there already)."""
    try:
        aws.client("apigateway").create_base_path_mapping(domainName=domain, restApiId=_api_id(), stage=API_STAGE)
    except ClientError as exc:
        if _code(exc) != "ConflictException":
            raise


def delete_domain_name(domain: str) -> None:
    """The root mapping, then the domain name; either already gone is fine."""
    client = aws.client("apigateway")
    for call, params in ((client.delete_base_path_mapping, {"basePath": "(none)"}), (client.delete_domain_name, {})):
        try:
            call(domainName=domain, **params)
        except ClientError as exc:
            if _code(exc) != "NotFoundException":
                raise
