"""A recorded AWS call (tests/infra/aws_calls.py) as the IAM authorizations it needs.

Each call becomes one or more :class:`Authorization`: the action(s) IAM checks for the
operation, on the resource ARN, with the request context that the policies' conditions
read (``dynamodb:LeadingKeys``, ``s3:prefix``, ``aws:RequestTag/*``, ``aws:TagKeys``,
``aws:ResourceTag/*``, ``aws:PrincipalTag/*``, ``kms:ViaService``...). A service that
uses a customer-managed KMS key on the caller's behalf adds the caller's KMS
authorization on that key, with ``kms:ViaService`` (DynamoDB: ``kms:Decrypt`` to read,
and ``kms:Encrypt``/``kms:GenerateDataKey`` to write, as CDK's table grants give; SQS:
``kms:GenerateDataKey`` to send, ``kms:Decrypt`` to receive; S3 likewise per object).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlparse

from tests.infra.deployment import ACCOUNT, Deployment
from tests.infra.iam_eval import Request

DYNAMODB_READS = {"GetItem", "Query", "BatchGetItem", "TransactGetItems", "DescribeTable"}
_S3_ACTIONS = {"GetObject": "s3:GetObject", "HeadObject": "s3:GetObject", "PutObject": "s3:PutObject",
               "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
               "CompleteMultipartUpload": "s3:PutObject", "AbortMultipartUpload": "s3:AbortMultipartUpload",
               "ListParts": "s3:ListMultipartUploadParts", "DeleteObject": "s3:DeleteObject",
               "ListObjectsV2": "s3:ListBucket", "ListObjects": "s3:ListBucket"}
_S3_KMS = {"PutObject": ("kms:GenerateDataKey",), "CreateMultipartUpload": ("kms:GenerateDataKey", "kms:Decrypt"),
           "UploadPart": ("kms:GenerateDataKey", "kms:Decrypt"), "CompleteMultipartUpload": ("kms:Decrypt",),
           "GetObject": ("kms:Decrypt",), "HeadObject": ("kms:Decrypt",)}
_SQS_ACTIONS = {"SendMessageBatch": "sqs:SendMessage", "DeleteMessageBatch": "sqs:DeleteMessage",
                "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}
_SQS_KMS = {"SendMessage": ("kms:GenerateDataKey", "kms:Decrypt"), "SendMessageBatch": ("kms:GenerateDataKey",
                                                                                        "kms:Decrypt"),
            "ReceiveMessage": ("kms:Decrypt",)}


@dataclass(frozen=True)
class Authorization:
    """One IAM decision a call needs. ``resource_policy``: the trust or key policy that must
    allow it too; ``tenant_scoped``: the request names the signing tenant's own data."""

    request: Request
    role: str  # logical id of the signing role
    resource_policy: dict[str, Any] | None = None
    identity_required: bool = False
    tenant_fields: tuple[str, ...] = field(default=())

    def with_tenant(self, tenant: str, other: str) -> Authorization:
        """The same authorization aimed at ``other``'s data: its keys, prefix, resource, and a
        tenant key's tag and key policy (another tenant's key has its own). The caller, its
        session tag included, stays ``tenant``."""
        def swap(value: Any) -> Any:
            if isinstance(value, str):
                return value.replace(tenant, other)
            if isinstance(value, (list, tuple)):
                return [swap(v) for v in value]
            if isinstance(value, dict):
                return {k: swap(v) for k, v in value.items()}
            return value

        context = {k: (swap(v) if k in self.tenant_fields else v) for k, v in self.request.context.items()}
        return replace(self, request=replace(self.request, resource=swap(self.request.resource), context=context),
                       resource_policy=swap(self.resource_policy))


def _s(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("S") if "S" in value else None
    return value


def _key_condition_partition(params: dict[str, Any], hash_key: str) -> str | None:
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    for clause in re.split(r"\s+and\s+", params.get("KeyConditionExpression", ""), flags=re.IGNORECASE):
        match = re.fullmatch(r"\s*([#\w]+)\s*=\s*(:\w+)\s*", clause)
        if match and names.get(match.group(1), match.group(1)) == hash_key:
            return _s(values.get(match.group(2)))
    return None


def _hash_key(index: str | None) -> str:
    return f"{index}pk" if index else "pk"  # chalicelib/store/schema.py: pk, and gsiNpk per index


def _dynamodb(call: dict[str, Any]) -> list[tuple[str, str, str, list[str]]]:
    """(action, table name, index or "", leading keys) of a DynamoDB call."""
    op, params = call["operation"], call["params"]
    table = params.get("TableName", "")
    if op in ("GetItem", "DeleteItem", "UpdateItem"):
        return [(f"dynamodb:{op}", table, "", [_s(params["Key"]["pk"])])]
    if op == "PutItem":
        return [("dynamodb:PutItem", table, "", [_s(params["Item"]["pk"])])]
    if op == "Query":
        index = params.get("IndexName") or ""
        return [("dynamodb:Query", table, index, [_key_condition_partition(params, _hash_key(index or None))])]
    if op in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for item in params["TransactItems"]:
            (kind, body), = item.items()
            action = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                      "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}[kind]
            key = body.get("Key") or body.get("Item")
            found.append((f"dynamodb:{action}", body["TableName"], "", [_s(key["pk"])]))
        return found
    if op == "BatchGetItem":
        return [("dynamodb:BatchGetItem", name, "", [_s(k["pk"]) for k in body["Keys"]])
                for name, body in params["RequestItems"].items()]
    if op == "BatchWriteItem":
        return [("dynamodb:BatchWriteItem", name, "",
                 [_s((r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key"))["pk"])
                  for r in requests]) for name, requests in params["RequestItems"].items()]
    return [(f"dynamodb:{op}", table, "", [])]


class CallMapper:
    """Maps the recorded calls of one test world to authorizations in one deployment."""

    def __init__(self, deployment: Deployment, tenant_role: str) -> None:
        self.deployment = deployment
        self.tenant_role = tenant_role

    def signer(self, call: dict[str, Any]) -> tuple[str, dict[str, Any], tuple[str, ...]]:
        kind, tenant = call["signer"]
        if kind == "tenant":
            return self.tenant_role, {"aws:PrincipalTag/tenant_id": tenant}, ()
        return self.deployment.role_of_function(call["function"]), {}, ()

    def authorizations(self, call: dict[str, Any]) -> list[Authorization]:
        role, principal_context, _ = self.signer(call)
        principal = self.deployment.arn(role)
        region = call.get("region") or "us-east-1"
        base = {**principal_context, "aws:PrincipalArn": principal, "aws:SecureTransport": "true"}
        found: list[Authorization] = []

        def add(action: str, resource: str, context: dict[str, Any] | None = None, *,
                tenant_fields: tuple[str, ...] = (), **extra: Any) -> None:
            context = {k: (self.deployment.in_stage(v) if isinstance(v, str) else v) for k, v in (context or {}).items()}
            found.append(Authorization(Request(action, self.deployment.in_stage(resource), principal,
                                               {**base, **context}), role,
                                       tenant_fields=tenant_fields, **extra))

        def via(service: str, key_arn: str | None, actions: tuple[str, ...], key: dict[str, Any] | None = None,
                context: dict[str, Any] | None = None) -> None:
            if not key_arn:
                return
            policy = self.deployment.key_policy(key_arn) or _runtime_key_policy(key)
            tags = {f"aws:ResourceTag/{k}": v for k, v in ((key or {}).get("tags") or {}).items()}
            for action in actions:
                add(action, key_arn, {"kms:ViaService": f"{service}.{region}.amazonaws.com",
                                      "kms:CallerAccount": ACCOUNT, **tags, **(context or {})},
                    resource_policy=policy, tenant_fields=tuple(tags))

        service, op, params = call["service"], call["operation"], call["params"]
        if service == "dynamodb":
            for action, table, index, leading in _dynamodb(call):
                arn = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}" + (f"/index/{index}" if index else "")
                add(action, arn, {"dynamodb:LeadingKeys": [k for k in leading if k is not None]},
                    tenant_fields=("dynamodb:LeadingKeys",))
                table_arn = arn.split("/index/")[0]
                reads = action.removeprefix("dynamodb:") in DYNAMODB_READS | {"ConditionCheckItem"}
                via("dynamodb", self.deployment.encryption_key(table_arn),
                    ("kms:Decrypt",) if reads else ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"))
        elif service == "s3":
            bucket, key = params.get("Bucket", ""), params.get("Key")
            action = _S3_ACTIONS.get(op, f"s3:{op}")
            if action == "s3:ListBucket":
                add(action, f"arn:aws:s3:::{bucket}", {"s3:prefix": params.get("Prefix", "")},
                    tenant_fields=("s3:prefix",))
            else:
                add(action, f"arn:aws:s3:::{bucket}/{key}")
            sse = call.get("key") if params.get("SSEKMSKeyId") else None
            key_arn = sse["arn"] if sse else self.deployment.encryption_key(f"arn:aws:s3:::{bucket}")
            # Our buckets use S3 Bucket Keys: S3's encryption context is the bucket's ARN.
            via("s3", key_arn, _S3_KMS.get(op, ()), sse, {"kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket}"})
        elif service == "sqs":
            name = params.get("QueueName") or unquote(urlparse(params.get("QueueUrl", "")).path).rsplit("/", 1)[-1]
            arn = f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"
            add(_SQS_ACTIONS.get(op, f"sqs:{op}"), arn)
            via("sqs", self.deployment.encryption_key(arn), _SQS_KMS.get(op, ()))
        elif service == "kms":
            self._kms(call, add)
        elif service == "sts" and op == "AssumeRole":
            tags = {t["Key"]: t["Value"] for t in params.get("Tags", [])}
            context = {**{f"aws:RequestTag/{k}": v for k, v in tags.items()}, "aws:TagKeys": list(tags)}
            target = self.deployment.role_for_arn(params["RoleArn"])
            for action in ("sts:AssumeRole", *(("sts:TagSession",) if tags else ())):
                add(action, params["RoleArn"], context, resource_policy=self.deployment.trust_policy(target),
                    identity_required=True)
        elif service == "ses":
            sender = str(params.get("Source") or params.get("FromEmailAddress") or "")
            address = sender.rsplit("<", 1)[-1].rstrip(">")
            add(f"ses:{op}", f"arn:aws:ses:{region}:{ACCOUNT}:identity/{address.split('@', 1)[-1]}",
                {"ses:FromAddress": address})
        elif service == "sns":
            add(f"sns:{op}", params.get("TopicArn") or params.get("TargetArn") or "*")
        elif service == "acm":
            self._acm(call, add, region)
        elif service == "apigateway":
            add(f"apigateway:{call['http']['method']}",
                f"arn:aws:apigateway:{region}::{unquote(urlparse(call['url']).path)}")
        else:
            add(f"{service}:{op}", "*")
        return found

    def _acm(self, call: dict[str, Any], add: Any, region: str) -> None:
        op, params = call["operation"], call["params"]
        if op == "RequestCertificate":
            tags = {t["Key"]: t.get("Value", "") for t in params.get("Tags", [])}
            context = {**{f"aws:RequestTag/{k}": v for k, v in tags.items()}, "aws:TagKeys": list(tags)}
            add("acm:RequestCertificate", "*", context)
            if tags:  # ACM tags a requested certificate with the caller's acm:AddTagsToCertificate
                add("acm:AddTagsToCertificate", f"arn:aws:acm:{region}:{ACCOUNT}:certificate/*", context)
            return
        tags = call.get("certificate_tags") or {}
        add(f"acm:{op}", str(params.get("CertificateArn", "*")),
            {f"aws:ResourceTag/{k}": v for k, v in tags.items()})

    def _kms(self, call: dict[str, Any], add: Any) -> None:
        op, params, key = call["operation"], call["params"], call.get("key")
        tags = {f"aws:ResourceTag/{k}": v for k, v in ((key or {}).get("tags") or {}).items()}
        context = {"kms:CallerAccount": ACCOUNT, **tags}
        for name, value in (params.get("EncryptionContext") or {}).items():
            context[f"kms:EncryptionContext:{name}"] = value
        if params.get("EncryptionContext"):
            context["kms:EncryptionContextKeys"] = list(params["EncryptionContext"])
        policy = _runtime_key_policy(key)
        if op in ("CreateKey", "ReplicateKey"):
            request_tags = {t["TagKey"]: t["TagValue"] for t in params.get("Tags", [])}
            created = {**{f"aws:RequestTag/{k}": v for k, v in request_tags.items()}, "aws:TagKeys": list(request_tags)}
            if op == "ReplicateKey":
                # KMS: kms:ReplicateKey on the primary (its key policy must allow it), and in
                # the replica's region kms:CreateKey, and kms:TagResource for Tags, by IAM.
                add("kms:ReplicateKey", key["arn"] if key else "*",
                    {**context, "kms:ReplicaRegion": params["ReplicaRegion"]}, resource_policy=policy,
                    tenant_fields=tuple(tags))
                created["aws:RequestedRegion"] = params["ReplicaRegion"]
            add("kms:CreateKey", "*", created)
            if request_tags:
                add("kms:TagResource", "*", created)
            return
        if op in ("CreateAlias", "UpdateAlias", "DeleteAlias"):
            alias = params["AliasName"]
            add(f"kms:{op}", f"arn:aws:kms:{call.get('region')}:{ACCOUNT}:{alias}")
            if key is None:
                return  # DeleteAlias names no key; its key was not recorded (the alias's check is made)
        resource = key["arn"] if key else f"arn:aws:kms:{call.get('region')}:{ACCOUNT}:key/unknown"
        add(f"kms:{op}", resource, context, resource_policy=policy, tenant_fields=tuple(tags))


def _runtime_key_policy(key: dict[str, Any] | None) -> dict[str, Any] | None:
    """A key created at run time carries the policy the app gave it (moto's default otherwise)."""
    import json

    if not key or not key.get("policy"):
        return None
    policy = key["policy"]
    return json.loads(policy) if isinstance(policy, str) else policy
