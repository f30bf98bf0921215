"""cdk-nag acknowledgments: each one is written beside the resource it excuses, with its reason."""
from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept finding ``rule`` (e.g. ``AwsSolutions-S1`` or ``AwsSolutions-IAM5[Resource::*]``) on ``construct``."""
    if len(reason) < 30:
        raise ValueError("an acknowledgment needs a real reason")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
