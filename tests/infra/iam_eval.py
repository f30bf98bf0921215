"""A small IAM policy evaluator: enough of AWS's documented logic to judge our policies.

Why our own: moto's IAM access control (moto/iam/access_control.py) matches actions and
resources only ("TODO add support for the Resource and Condition parts"), and evaluates
no condition (no ``dynamodb:LeadingKeys``, ``aws:PrincipalTag``, ``kms:ViaService``);
principalmapper does not import on Python 3.11. tests/infra/test_iam_eval.py checks this
module against the examples of AWS's IAM documentation.

What it implements (AWS IAM User Guide, "Policy evaluation logic" and the element
reference): explicit deny beats allow beats the implicit deny; ``Action``/``NotAction``
(case-insensitive, ``*`` and ``?``); ``Resource``/``NotResource`` (case-sensitive,
ARNs matched per colon-delimited segment); policy variables ``${key}`` in resources and
condition values (a statement whose variable is missing from the request matches
nothing); ``Condition`` blocks: AND across operators and keys, OR across one key's
values; the ``String*``, ``Numeric*``, ``Bool``, ``Null``, ``Arn*`` operators,
``...IfExists``, and the ``ForAllValues:``/``ForAnyValue:`` set operators (a missing key
makes ``ForAllValues`` true, as AWS warns); a negated operator is true when the key is
missing. Resource policies (role trust, KMS key policies) match ``Principal``; a key
policy that names the account delegates to the caller's IAM policies.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "Allow", "ExplicitDeny", "ImplicitDeny"


@dataclass(frozen=True)
class Request:
    """One authorization: an action on a resource by a principal, with its request context."""

    action: str
    resource: str
    principal: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)

    def value(self, key: str) -> list[str] | None:
        """The context key's values (keys are case-insensitive), or None when absent."""
        for name, value in self.context.items():
            if name.lower() == key.lower():
                if value is None:
                    return None
                return [str(v) for v in value] if isinstance(value, (list, tuple, set)) else [str(value)]
        return None


class _Missing(Exception):
    """A policy variable the request context does not hold."""


_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def _substitute(text: str, request: Request) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("*", "?", "$"):
            return "\0" + name  # the literal character, protected from wildcard matching
        values = request.value(name)
        if not values or len(values) != 1:
            raise _Missing(name)
        return values[0]

    return _VARIABLE.sub(replace, text)


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\0":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def arn_like(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-delimited parts matched on its own."""
    want, have = pattern.split(":", 5), value.split(":", 5)
    if len(want) != 6 or len(have) != 6:
        return like(pattern, value)
    return all(like(w, h) for w, h in zip(want, have, strict=True))


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(base: str, policy_value: str, request_value: str) -> bool:
    if base in ("StringEquals", "StringNotEquals"):
        return policy_value == request_value
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return policy_value.lower() == request_value.lower()
    if base in ("StringLike", "StringNotLike"):
        return like(policy_value, request_value)
    if base in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        return arn_like(policy_value, request_value)
    if base == "Bool":
        return policy_value.lower() == request_value.lower()
    if base.startswith("Numeric"):
        a, b = _number(request_value), _number(policy_value)
        if a is None or b is None:
            return False
        op = base.removeprefix("Numeric").removeprefix("Not")
        return {"Equals": a == b, "LessThan": a < b, "LessThanEquals": a <= b,
                "GreaterThan": a > b, "GreaterThanEquals": a >= b}[op]
    raise ValueError(f"condition operator {base} is not implemented")


def _negated(base: str) -> bool:
    return "Not" in base and base not in ("Null",)


def _condition(operator: str, key: str, policy_values: list[str], request: Request) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    values = request.value(key)
    if base == "Null":
        absent = values is None or values == []
        return any((v.lower() == "true") == absent for v in policy_values)
    try:
        resolved = [_substitute(v, request) for v in policy_values]
    except _Missing:
        return False
    if qualifier == "ForAllValues":
        if not values:
            return True
        return all(any(_compare(base, p, v) for p in resolved) for v in values) if not _negated(base) else all(
            not any(_compare(base, p, v) for p in resolved) for v in values)
    if qualifier == "ForAnyValue":
        if not values:
            return False
        return any(any(_compare(base, p, v) for p in resolved) for v in values) if not _negated(base) else any(
            not any(_compare(base, p, v) for p in resolved) for v in values)
    if values is None:
        return if_exists or _negated(base)
    if _negated(base):
        return all(not _compare(base, p, v) for p in resolved for v in values)
    return any(_compare(base, p, v) for p in resolved for v in values)


def conditions_hold(block: Mapping[str, Mapping[str, Any]] | None, request: Request) -> bool:
    for operator, keys in (block or {}).items():
        for key, policy_values in keys.items():
            if not _condition(operator, key, [str(v) for v in _listed(policy_values)], request):
                return False
    return True


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(like(p, action, ignore_case=True) for p in _listed(statement["Action"]))
    return not any(like(p, action, ignore_case=True) for p in _listed(statement.get("NotAction")))


def _resource_matches(statement: Mapping[str, Any], request: Request) -> bool:
    def matches(pattern: str) -> bool:
        try:
            pattern = _substitute(pattern, request)
        except _Missing:
            return False
        return pattern == "*" or arn_like(pattern, request.resource)

    if "Resource" in statement:
        return any(matches(p) for p in _listed(statement["Resource"]))
    if "NotResource" in statement:
        return not any(matches(p) for p in _listed(statement["NotResource"]))
    return True  # trust policies have no Resource element


def _principal_matches(statement: Mapping[str, Any], principal: str) -> bool:
    declared = statement.get("Principal")
    if declared is None:
        return False
    if declared == "*":
        return True
    for kind, names in declared.items():
        for name in _listed(names):
            if name == "*" or name == principal:
                return True
            if kind == "AWS" and name.endswith(":root") and principal.split(":")[4:5] == name.split(":")[4:5]:
                return True  # the account: delegates to that account's IAM policies
    return False


def statement_applies(statement: Mapping[str, Any], request: Request, *, resource_policy: bool = False) -> bool:
    if resource_policy and not _principal_matches(statement, request.principal):
        return False
    return (_action_matches(statement, request.action) and _resource_matches(statement, request)
            and conditions_hold(statement.get("Condition"), request))


def _statements(policies: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for policy in policies:
        yield from _listed(policy.get("Statement"))


def evaluate(policies: Sequence[Mapping[str, Any]], request: Request, *, resource_policy: bool = False) -> str:
    """``Allow``, ``ExplicitDeny`` or ``ImplicitDeny`` for ``request`` under ``policies``."""
    decision = IMPLICIT_DENY
    for statement in _statements(policies):
        if statement_applies(statement, request, resource_policy=resource_policy):
            if statement.get("Effect") == "Deny":
                return EXPLICIT_DENY
            decision = ALLOW
    return decision


def account_delegates(policy: Mapping[str, Any], request: Request) -> bool:
    """Whether a key policy lets the account's IAM policies decide (a statement naming the
    account root for the action), as KMS's default key policy does."""
    account = request.principal.split(":")[4] if request.principal.count(":") >= 5 else ""
    root = f"arn:aws:iam::{account}:root"
    delegated = Request(request.action, request.resource, root, request.context)
    return any(statement_applies(s, delegated, resource_policy=True) and s.get("Effect") == "Allow"
               and root in _listed((s.get("Principal") or {}).get("AWS")) for s in _statements([policy]))


def allowed_with_resource_policy(identity: Sequence[Mapping[str, Any]], resource: Mapping[str, Any],
                                 request: Request, *, identity_required: bool = False) -> bool:
    """Same-account access to a resource with a policy of its own (a role's trust, a KMS key).

    An explicit deny in either refuses. KMS: the key policy must allow the principal, or
    name the account (then the identity policy must allow). ``identity_required`` (role
    assumption as we use it): both must allow.
    """
    if EXPLICIT_DENY in (evaluate(identity, request), evaluate([resource], request, resource_policy=True)):
        return False
    by_resource = evaluate([resource], request, resource_policy=True) == ALLOW
    by_identity = evaluate(identity, request) == ALLOW
    if identity_required:
        return by_resource and by_identity
    direct = any(statement_applies(s, request, resource_policy=True) and s.get("Effect") == "Allow"
                 and request.principal in _listed((s.get("Principal") or {}).get("AWS")) for s in _statements([resource]))
    return direct or (account_delegates(resource, request) and by_identity)
