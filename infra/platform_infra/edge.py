"""The API's front door and what it needs before its first request.

* The platform API key: the authorizer selects it for super-admins' requests
  (chalicelib/ratelimit/authorizer.py), found by name and tag as
  chalicelib/ratelimit/usage_plans.py ``platform_key_name`` makes it, on the
  ``platform`` usage plan. Made here, no operator has to run a command after a deploy.
* A WAF web ACL on the API stage: AWS's managed common rule set, and a rate-based rule
  that blocks an IP sending more than ``rate_limit_per_ip`` requests in five minutes
  (before the tenants' usage plans, which count per tenant, not per client).
"""
from __future__ import annotations

from aws_cdk import CfnTag, Fn, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_wafv2 as wafv2
from chalice.cdk import Chalice
from constructs import Construct

from platform_infra.chalice_app import REST_API
from platform_infra.nag import acknowledge

# Requests per 5 minutes from one IP address (WAF's evaluation window), all tenants together.
DEFAULT_RATE_LIMIT_PER_IP = 3000


def platform_api_key(scope: Construct, *, name: str, usage_plan: apigateway.CfnUsagePlan) -> apigateway.CfnApiKey:
    return _shared_api_key(scope, "PlatformApiKey", name=name, usage_plan=usage_plan, tag="platform",
                           description="Selected by the authorizer for super-admins; never handed to a client")


def overflow_api_key(scope: Construct, *, name: str, usage_plan: apigateway.CfnUsagePlan) -> apigateway.CfnApiKey:
    """The key tenants share once the account's API key quota is reached (chalicelib/ratelimit/usage_plans.py)."""
    return _shared_api_key(scope, "OverflowApiKey", name=name, usage_plan=usage_plan, tag="overflow",
                           description="Selected by the authorizer for tenants past the API key quota")


def _shared_api_key(scope: Construct, construct_id: str, *, name: str, usage_plan: apigateway.CfnUsagePlan,
                    tag: str, description: str) -> apigateway.CfnApiKey:
    key = apigateway.CfnApiKey(scope, construct_id, name=name, enabled=True, description=description,
                               tags=[CfnTag(key="scope", value=tag)])
    apigateway.CfnUsagePlanKey(scope, f"{construct_id}Plan", key_id=key.ref, key_type="API_KEY",
                               usage_plan_id=usage_plan.ref)
    return key


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(cloud_watch_metrics_enabled=True, metric_name=name,
                                                    sampled_requests_enabled=True)


def web_acl(scope: Construct, chalice: Chalice, *, prefix: str,
            rate_limit_per_ip: int = DEFAULT_RATE_LIMIT_PER_IP) -> wafv2.CfnWebACL:
    acl = wafv2.CfnWebACL(
        scope, "WebAcl", name=prefix, scope="REGIONAL", default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=_visibility(prefix),
        rules=[
            wafv2.CfnWebACL.RuleProperty(
                name="aws-common-rules", priority=0,
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name="AWSManagedRulesCommonRuleSet")),
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                visibility_config=_visibility(f"{prefix}-common")),
            wafv2.CfnWebACL.RuleProperty(
                name="rate-per-ip", priority=1,
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=rate_limit_per_ip, aggregate_key_type="IP")),
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                visibility_config=_visibility(f"{prefix}-rate-per-ip")),
        ])
    stage = Stack.of(scope)
    # "RestAPI.Stage" is SAM's reference to the stage it generates: associated once it exists.
    association = wafv2.CfnWebACLAssociation(
        scope, "WebAclAssociation", web_acl_arn=acl.attr_arn,
        resource_arn=Fn.join("", [f"arn:{stage.partition}:apigateway:{stage.region}::/restapis/",
                                  chalice.get_resource(REST_API).ref, "/stages/", Fn.ref(f"{REST_API}.Stage")]))
    acknowledge(association, "CloudFormation-Validate::F1020",
                "RestAPI.Stage is the SAM transform's reference to the stage it generates for RestAPI; "
                "CDK's pre-transform check does not know it, cfn-lint checks it after the transform.")
    return acl
