"""A synthesized stage template, resolved to the names the tests' moto world uses.

The contract evaluates calls recorded under moto (account 123456789012, us-east-1, the
local stage's table, bucket, queue and role names) against a template whose ARNs are
CloudFormation expressions. :class:`Deployment` resolves those expressions with the
test world's names, matched the way the functions are told them: a function's
environment variable that refers to a resource (``DATA_TABLE: {"Ref": "DataTable..."}``)
names that resource in the tests under the same variable; queues keep their fixed
names. What the tests never name (KMS keys of the template, the functions' roles) gets
a stable stand-in ARN.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com",
          "AWS::StackName": "stack", "AWS::NoValue": None}
FUNCTION = "AWS::Serverless::Function"


@dataclass(frozen=True)
class Named:
    ref: str
    arn: str


class Deployment:
    def __init__(self, template: dict[str, Any], test_environment: Mapping[str, str]) -> None:
        self.template = template
        self.resources: dict[str, dict[str, Any]] = template["Resources"]
        self._names = self._world_names(test_environment)
        self._renames = self._world_strings(test_environment)
        self._functions: dict[str, str] | None = None
        self._policies: dict[str, list[dict[str, Any]]] = {}

    # -- resolution ---------------------------------------------------------------------
    def _world_names(self, env: Mapping[str, str]) -> dict[str, Named]:
        names: dict[str, Named] = {}
        for function in self.of_type(FUNCTION).values():
            for variable, value in function["Properties"].get("Environment", {}).get("Variables", {}).items():
                logical = (value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0]) if isinstance(value, dict) else None
                if logical and variable in env and logical not in names:
                    names[logical] = self._named(logical, env[variable])
        for logical in self.resources:
            if logical not in names:
                names[logical] = self._named(logical, None)
        return names

    def _world_strings(self, env: Mapping[str, str]) -> list[tuple[str, str]]:
        """The stage's own names for what the test world names after the local stage: the
        sender address (and its domain) and the tenant key aliases ``alias/<app>/<stage>/``."""
        deployed = next(iter(self.of_type(FUNCTION).values()))["Properties"]["Environment"]["Variables"]
        renames = [(f"alias/{env['APP_NAME']}/{env['STAGE']}/", f"alias/{deployed['APP_NAME']}/{deployed['STAGE']}/")]
        sender, stage_sender = env["PLATFORM_SENDER_EMAIL"], deployed["PLATFORM_SENDER_EMAIL"]
        renames += [(sender, stage_sender), (sender.split("@", 1)[1], stage_sender.split("@", 1)[1])]
        return renames

    def in_stage(self, text: str) -> str:
        """``text`` (an ARN or address of the test world) as this stage names it."""
        for world, stage in self._renames:
            text = text.replace(world, stage)
        return text

    def _named(self, logical: str, world: str | None) -> Named:
        kind = self.resources[logical]["Type"]
        props = self.resources[logical].get("Properties", {})
        if kind == "AWS::DynamoDB::Table":
            name = world or logical
            return Named(name, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")
        if kind == "AWS::S3::Bucket":
            name = world or logical.lower()
            return Named(name, f"arn:aws:s3:::{name}")
        if kind == "AWS::SQS::Queue":
            name = props.get("QueueName", logical)
            return Named(f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
        if kind == "AWS::IAM::Role":
            arn = world or f"arn:aws:iam::{ACCOUNT}:role/{logical}"
            return Named(arn.rsplit("/", 1)[-1], arn)
        if kind == "AWS::KMS::Key":
            return Named(logical, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{logical}")
        if kind == "AWS::Logs::LogGroup":
            name = props.get("LogGroupName", logical)
            return Named(name, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*")
        return Named(logical, f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:{kind}/{logical}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (op, arg), = value.items()
            if op == "Ref":
                return PSEUDO[arg] if arg in PSEUDO else self._names[arg].ref
            if op == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._names[logical].arn if attribute == "Arn" else self._names[logical].ref
            if op == "Fn::Join":
                return arg[0].join(str(self.resolve(v)) for v in arg[1])
            if op == "Fn::Select":
                return self.resolve(arg[1])[int(arg[0])]
            if op == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
        return {k: self.resolve(v) for k, v in value.items()}

    # -- what the contract asks ---------------------------------------------------------
    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == kind}

    def arn(self, logical: str) -> str:
        return self._names[logical].arn

    def function_logical_ids(self) -> dict[str, str]:
        """Chalice function name -> logical id, for the functions the template deploys."""
        if self._functions is None:
            from chalice.utils import to_cfn_resource_name

            from app import app

            names = ["api_handler", *(s.name for s in app.event_sources), *(a.name for a in app.builtin_auth_handlers)]
            # chalice package names the API handler "APIHandler", the others by to_cfn_resource_name.
            ids = {name: "APIHandler" if name == "api_handler" else to_cfn_resource_name(name) for name in names}
            self._functions = {name: logical for name, logical in ids.items() if logical in self.resources}
        return self._functions

    def dr_region(self) -> str | None:
        """The stage's DR region, as its functions are told (``DR_REGION``), or None."""
        variables = next(iter(self.of_type(FUNCTION).values()))["Properties"]["Environment"]["Variables"]
        return variables.get("DR_REGION")

    def role_of_function(self, function: str) -> str:
        logical = self.function_logical_ids()[function]
        role = self.resources[logical]["Properties"]["Role"]
        return role["Fn::GetAtt"][0] if isinstance(role, dict) else role

    def role_policies(self, role: str) -> list[dict[str, Any]]:
        """The identity policies of ``role``: its inline policies and the policies attached to it."""
        if role not in self._policies:
            self._policies[role] = self._role_policies(role)
        return self._policies[role]

    def _role_policies(self, role: str) -> list[dict[str, Any]]:
        props = self.resources[role]["Properties"]
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        for policy in self.of_type("AWS::IAM::Policy").values():
            if {"Ref": role} in policy["Properties"].get("Roles", []):
                documents.append(policy["Properties"]["PolicyDocument"])
        return self.resolve(documents)

    def trust_policy(self, role: str) -> dict[str, Any]:
        return self.resolve(self.resources[role]["Properties"]["AssumeRolePolicyDocument"])

    def max_session_seconds(self, role: str) -> int:
        return int(self.resources[role]["Properties"].get("MaxSessionDuration", 3600))

    def role_for_arn(self, arn: str) -> str:
        return next(logical for logical in self.of_type("AWS::IAM::Role") if self.arn(logical) == arn)

    def key_policy(self, key_arn: str) -> dict[str, Any] | None:
        for logical, key in self.of_type("AWS::KMS::Key").items():
            if self.arn(logical) == key_arn:
                return self.resolve(key["Properties"]["KeyPolicy"])
        return None

    def encryption_key(self, resource_arn: str) -> str | None:
        """The template KMS key that encrypts the table, bucket or queue at ``resource_arn``."""
        for logical, resource in self.resources.items():
            if self.arn(logical) != resource_arn:
                continue
            props = resource.get("Properties", {})
            key = (props.get("SSESpecification", {}).get("KMSMasterKeyId") or props.get("KmsMasterKeyId")
                   or next((r["ServerSideEncryptionByDefault"].get("KMSMasterKeyID") for r in props.get(
                       "BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])), None))
            return self.resolve(key) if key is not None else None
        return None

