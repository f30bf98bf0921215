"""The evaluator of the deployment contract, against the examples of AWS's IAM documentation.

Each policy below is one of the IAM User Guide's (or the DynamoDB/KMS developer guides')
example policies, with the outcome the documentation states for a request.
"""
from __future__ import annotations

from tests.infra.iam_eval import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    Request,
    allowed_with_resource_policy,
    evaluate,
)

ACCOUNT = "111122223333"
USER = f"arn:aws:iam::{ACCOUNT}:user/Bob"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_nothing_allowed_is_an_implicit_deny_and_an_explicit_deny_overrides_an_allow():
    # "Policy evaluation logic": a Deny in any applicable policy wins over any Allow.
    allow = policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    deny = policy({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"})
    delete = Request("s3:DeleteObject", "arn:aws:s3:::amzn-s3-demo-bucket/a.txt")

    assert evaluate([], delete) == IMPLICIT_DENY
    assert evaluate([allow], delete) == ALLOW
    assert evaluate([allow, deny], delete) == EXPLICIT_DENY
    assert evaluate([allow, deny], Request("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/a.txt")) == ALLOW


def test_actions_match_wildcards_case_insensitively_and_not_action_inverts():
    # "IAM JSON policy elements: Action": "s3:Get*"; action names are case-insensitive.
    reads = policy({"Effect": "Allow", "Action": ["s3:Get*", "s3:List?ucket"], "Resource": "*"})
    assert evaluate([reads], Request("S3:getobject", "arn:aws:s3:::b/k")) == ALLOW
    assert evaluate([reads], Request("s3:ListBucket", "arn:aws:s3:::b")) == ALLOW
    assert evaluate([reads], Request("s3:PutObject", "arn:aws:s3:::b/k")) == IMPLICIT_DENY
    # "NotAction": everything except IAM.
    not_iam = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate([not_iam], Request("iam:CreateUser", "*")) == IMPLICIT_DENY
    assert evaluate([not_iam], Request("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q")) == ALLOW


def test_resources_are_case_sensitive_and_not_resource_excludes():
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/Public/*"}
    assert evaluate([policy(statement)], Request("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/Public/a")) == ALLOW
    assert evaluate([policy(statement)],
                    Request("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/public/a")) == IMPLICIT_DENY
    everything_but = policy({"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::HRBucket/Payroll*"]})
    assert evaluate([everything_but], Request("s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/1")) == IMPLICIT_DENY
    assert evaluate([everything_but], Request("s3:GetObject", "arn:aws:s3:::Other/x")) == EXPLICIT_DENY


def test_policy_variables_in_resources_and_conditions():
    # "IAM policy elements: Variables and tags": each user reaches only its home folder.
    home = policy(
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket",
         "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*"]}}},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/${aws:username}/*"})
    bob = {"aws:username": "Bob"}
    assert evaluate([home], Request("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket/Bob/a", USER, bob)) == ALLOW
    assert evaluate([home], Request("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket/Alice/a", USER,
                                    bob)) == IMPLICIT_DENY
    assert evaluate([home], Request("s3:ListBucket", "arn:aws:s3:::amzn-s3-demo-bucket", USER,
                                    {**bob, "s3:prefix": "Bob/docs"})) == ALLOW
    assert evaluate([home], Request("s3:ListBucket", "arn:aws:s3:::amzn-s3-demo-bucket", USER,
                                    {**bob, "s3:prefix": "Alice/"})) == IMPLICIT_DENY
    # A variable with no value in the request: the statement matches nothing.
    assert evaluate([home], Request("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket/Bob/a")) == IMPLICIT_DENY


def test_dynamodb_leading_keys_with_for_all_values_and_its_missing_key_pitfall():
    # DynamoDB developer guide, "Using IAM policy conditions for fine-grained access control".
    fine_grained = policy({
        "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"],
        "Resource": ["arn:aws:dynamodb:us-west-2:123456789012:table/GameScores"],
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${www.amazon.com:user_id}"]}}})
    table = "arn:aws:dynamodb:us-west-2:123456789012:table/GameScores"
    me = {"www.amazon.com:user_id": "u1"}
    assert evaluate([fine_grained], Request("dynamodb:GetItem", table, "", {**me, "dynamodb:LeadingKeys": ["u1"]})) == ALLOW
    assert evaluate([fine_grained], Request("dynamodb:GetItem", table, "",
                                            {**me, "dynamodb:LeadingKeys": ["u2"]})) == IMPLICIT_DENY
    # A batch: every leading key must match.
    assert evaluate([fine_grained], Request("dynamodb:GetItem", table, "",
                                            {**me, "dynamodb:LeadingKeys": ["u1", "u2"]})) == IMPLICIT_DENY
    # IAM guide, "Multivalued context keys": ForAllValues is true when the key is absent.
    assert evaluate([fine_grained], Request("dynamodb:GetItem", table, "", me)) == ALLOW
    like = policy({"Effect": "Allow", "Action": "dynamodb:Query", "Resource": table,
                   "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["T#${aws:PrincipalTag/t}#*"]}}})
    assert evaluate([like], Request("dynamodb:Query", table, "", {"aws:PrincipalTag/t": "a",
                                                                   "dynamodb:LeadingKeys": ["T#a#PRO"]})) == ALLOW
    assert evaluate([like], Request("dynamodb:Query", table, "", {"aws:PrincipalTag/t": "a",
                                                                   "dynamodb:LeadingKeys": ["T#b#PRO"]})) == IMPLICIT_DENY


def test_for_any_value_and_for_all_values_on_tag_keys():
    # IAM guide, "Controlling access during AWS requests" (aws:TagKeys examples).
    only_allowed_keys = policy({"Effect": "Allow", "Action": "iam:TagUser", "Resource": "*",
                                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["Department", "JobFunction"]}}})
    some_key = policy({"Effect": "Deny", "Action": "iam:TagUser", "Resource": "*",
                       "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["CostCenter"]}}})
    assert evaluate([only_allowed_keys], Request("iam:TagUser", USER, "", {"aws:TagKeys": ["Department"]})) == ALLOW
    assert evaluate([only_allowed_keys], Request("iam:TagUser", USER, "",
                                                 {"aws:TagKeys": ["Department", "Owner"]})) == IMPLICIT_DENY
    assert evaluate([some_key], Request("iam:TagUser", USER, "", {"aws:TagKeys": ["Owner", "CostCenter"]})) == EXPLICIT_DENY
    assert evaluate([some_key], Request("iam:TagUser", USER, "", {})) == IMPLICIT_DENY


def test_arn_like_matches_each_segment_and_bool_secure_transport():
    # "aws:SourceArn" with ArnLike; S3's "deny HTTP" bucket policy with Bool.
    source = policy({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*",
                     "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:*:*:amzn-s3-demo-*"}}})
    assert evaluate([source], Request("sqs:SendMessage", "q", "", {"aws:SourceArn": "arn:aws:s3:::amzn-s3-demo-b"})) == ALLOW
    assert evaluate([source], Request("sqs:SendMessage", "q", "", {"aws:SourceArn": "arn:aws:sns:::amzn-s3-demo-b"})) \
        == IMPLICIT_DENY
    tls = policy({"Effect": "Deny", "Action": "s3:*", "Resource": "*",
                  "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    assert evaluate([tls], Request("s3:GetObject", "arn:aws:s3:::b/k", "", {"aws:SecureTransport": "false"})) \
        == EXPLICIT_DENY
    assert evaluate([tls], Request("s3:GetObject", "arn:aws:s3:::b/k", "", {"aws:SecureTransport": "true"})) \
        == IMPLICIT_DENY


def test_null_if_exists_and_negated_operators_on_a_missing_key():
    require_tag = policy({"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
                          "Condition": {"Null": {"aws:RequestTag/CostCenter": "false"}}})
    assert evaluate([require_tag], Request("ec2:RunInstances", "*", "", {"aws:RequestTag/CostCenter": "1"})) == ALLOW
    assert evaluate([require_tag], Request("ec2:RunInstances", "*", "", {})) == IMPLICIT_DENY
    # "...IfExists": true when the key is absent.
    sized = policy({"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
                    "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*"]}}})
    assert evaluate([sized], Request("ec2:RunInstances", "*", "", {})) == ALLOW
    assert evaluate([sized], Request("ec2:RunInstances", "*", "", {"ec2:InstanceType": "m5.large"})) == IMPLICIT_DENY
    # A negated operator whose key is absent is true (IAM guide, "Condition operators").
    negated = policy({"Effect": "Deny", "Action": "s3:*", "Resource": "*",
                      "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": ["a", "b"]}}})
    assert evaluate([negated], Request("s3:GetObject", "*", "", {})) == EXPLICIT_DENY
    assert evaluate([negated], Request("s3:GetObject", "*", "", {"aws:PrincipalTag/team": "b"})) == IMPLICIT_DENY
    assert evaluate([negated], Request("s3:GetObject", "*", "", {"aws:PrincipalTag/team": "c"})) == EXPLICIT_DENY


def test_one_keys_values_are_or_and_keys_and_operators_are_and():
    both = policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": {
        "StringEquals": {"kms:ViaService": ["ec2.us-west-2.amazonaws.com", "rds.us-west-2.amazonaws.com"],
                         "kms:CallerAccount": ACCOUNT},
        "NumericLessThanEquals": {"aws:MultiFactorAuthAge": "3600"}}})
    context = {"kms:ViaService": "rds.us-west-2.amazonaws.com", "kms:CallerAccount": ACCOUNT,
               "aws:MultiFactorAuthAge": "100"}
    assert evaluate([both], Request("kms:Decrypt", "k", "", context)) == ALLOW
    assert evaluate([both], Request("kms:Decrypt", "k", "", {**context, "kms:CallerAccount": "444455556666"})) \
        == IMPLICIT_DENY
    assert evaluate([both], Request("kms:Decrypt", "k", "", {**context, "aws:MultiFactorAuthAge": "7200"})) \
        == IMPLICIT_DENY
    # KMS developer guide, kms:ViaService: the same call made directly carries no ViaService.
    assert evaluate([both], Request("kms:Decrypt", "k", "", {"kms:CallerAccount": ACCOUNT,
                                                              "aws:MultiFactorAuthAge": "1"})) == IMPLICIT_DENY


def test_abac_principal_tag_equals_resource_tag():
    # IAM guide, "Define permissions based on attributes with ABAC authorization".
    abac = policy({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
                   "Condition": {"StringEquals": {"aws:ResourceTag/access-project": "${aws:PrincipalTag/access-project}"}}})
    mine = {"aws:PrincipalTag/access-project": "peg", "aws:ResourceTag/access-project": "peg"}
    assert evaluate([abac], Request("secretsmanager:GetSecretValue", "s", "", mine)) == ALLOW
    assert evaluate([abac], Request("secretsmanager:GetSecretValue", "s", "",
                                    {**mine, "aws:ResourceTag/access-project": "pix"})) == IMPLICIT_DENY
    assert evaluate([abac], Request("secretsmanager:GetSecretValue", "s", "",
                                    {"aws:ResourceTag/access-project": "peg"})) == IMPLICIT_DENY


def test_key_policy_naming_the_account_delegates_to_iam_and_naming_a_role_does_not():
    # KMS developer guide, "Default key policy": the account root statement enables IAM policies.
    key = "arn:aws:kms:us-east-1:111122223333:key/1234"
    role = f"arn:aws:iam::{ACCOUNT}:role/App"
    default = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
                      "Resource": "*"})
    only_role = policy({"Effect": "Allow", "Principal": {"AWS": role}, "Action": "kms:Decrypt", "Resource": "*"})
    iam_allows = [policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key})]
    other = f"arn:aws:iam::{ACCOUNT}:role/Other"

    assert allowed_with_resource_policy(iam_allows, default, Request("kms:Decrypt", key, other))
    assert not allowed_with_resource_policy([], default, Request("kms:Decrypt", key, other))
    assert allowed_with_resource_policy([], only_role, Request("kms:Decrypt", key, role))
    assert not allowed_with_resource_policy(iam_allows, only_role, Request("kms:Decrypt", key, other))
