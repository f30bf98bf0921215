"""cdk-nag acknowledgments: each one is written beside the resource it excuses, with its reason."""
from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept finding ``rule`` on ``construct``: a cdk-nag rule (``AwsSolutions-S1``, or one finding
    of it, ``AwsSolutions-IAM5[Resource::*]``) or a CDK check (``CloudFormation-Validate::F1020``)."""
    if len(reason) < 30:
        raise ValueError("an acknowledgment needs a real reason")
    if rule.startswith("AwsSolutions-"):
        rule = f"AwsSolutions::{rule}"  # the plugin's prefix, as cdk-nag's messages name it
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
