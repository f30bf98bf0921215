"""The stage's platform domain: ``<domain>`` and ``*.<domain>`` in front of the API.

Tenant resolution reads the host (``acme.<domain>`` is tenant ``acme``, DESIGN.md), so
the API must answer on every subdomain: one ACM certificate for the domain and its
wildcard (DNS-validated in the given hosted zone, or an existing certificate), a
regional API Gateway custom domain for each name, each mapped at the root to the API's
stage, and an alias record for each in the hosted zone.
"""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Fn
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from chalice.cdk import Chalice
from constructs import Construct

from platform_infra.chalice_app import REST_API
from platform_infra.nag import acknowledge


@dataclass(frozen=True)
class DomainSettings:
    """Context of a stage with a domain: ``domain``, ``hosted_zone_id``, and ``certificate_arn``
    (an existing certificate for the domain and its wildcard) or none (one is requested)."""

    domain: str
    hosted_zone_id: str
    certificate_arn: str | None = None


def platform_domain(scope: Construct, chalice: Chalice, settings: DomainSettings) -> list[apigateway.CfnDomainName]:
    zone = route53.HostedZone.from_hosted_zone_attributes(scope, "HostedZone", hosted_zone_id=settings.hosted_zone_id,
                                                          zone_name=settings.domain)
    names = [settings.domain, f"*.{settings.domain}"]
    if settings.certificate_arn:
        certificate = acm.Certificate.from_certificate_arn(scope, "DomainCertificate", settings.certificate_arn)
    else:
        certificate = acm.Certificate(scope, "DomainCertificate", domain_name=settings.domain,
                                      subject_alternative_names=names[1:],
                                      validation=acm.CertificateValidation.from_dns(zone))
    created = []
    for n, name in enumerate(names):
        suffix = "Wildcard" if n else "Apex"
        domain = apigateway.CfnDomainName(
            scope, f"Domain{suffix}", domain_name=name, regional_certificate_arn=certificate.certificate_arn,
            endpoint_configuration=apigateway.CfnDomainName.EndpointConfigurationProperty(types=["REGIONAL"]),
            security_policy="TLS_1_2")
        mapping = apigateway.CfnBasePathMapping(scope, f"Domain{suffix}Mapping", domain_name=domain.ref,
                                                rest_api_id=chalice.get_resource(REST_API).ref,
                                                stage=Fn.ref(f"{REST_API}.Stage"))
        acknowledge(mapping, "CloudFormation-Validate::F1020",
                    "RestAPI.Stage is the SAM transform's reference to the stage it generates for RestAPI; "
                    "CDK's pre-transform check does not know it, cfn-lint checks it after the transform.")
        route53.ARecord(scope, f"Domain{suffix}Record", zone=zone, record_name=name,
                        target=route53.RecordTarget.from_alias(targets.ApiGatewayv2DomainProperties(
                            domain.attr_regional_domain_name, domain.attr_regional_hosted_zone_id)))
        created.append(domain)
    return created
