"""A Cognito user pool in moto, and the app configured to trust it as a real stage would.

moto's Cognito signs RS256 tokens (kid ``dummy``) and serves the pool's JWKS; the ID
token carries ``aud``, ``token_use: id``, ``custom:*`` attributes, ``cognito:groups`` and
the attributes the app client may read (here ``email`` and ``email_verified``); the
access token has no ``aud``: ``client_id``, ``token_use: access``, ``cognito:groups``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests

PASSWORD = "Correct-Horse-9-Battery"
ADMIN_GROUP = "platform-admins"


@dataclass
class Pool:
    client: Any
    pool_id: str
    client_id: str
    region: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    def jwks(self) -> str:
        # In-process moto answers this URL (requests is intercepted under mock_aws).
        response = requests.get(f"{self.issuer}/.well-known/jwks.json", timeout=5)
        response.raise_for_status()
        return response.text

    def user(self, email: str, *, tenant_id: str | None = None, groups: tuple[str, ...] = ()) -> str:
        """A confirmed user with a verified email; returns its ``sub``."""
        attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
        if tenant_id is not None:
            attributes.append({"Name": "custom:tenant_id", "Value": tenant_id})
        self.client.admin_create_user(UserPoolId=self.pool_id, Username=email, UserAttributes=attributes,
                                      MessageAction="SUPPRESS")
        self.client.admin_set_user_password(UserPoolId=self.pool_id, Username=email, Password=PASSWORD,
                                             Permanent=True)
        for group in groups:
            self.client.admin_add_user_to_group(UserPoolId=self.pool_id, Username=email, GroupName=group)
        user = self.client.admin_get_user(UserPoolId=self.pool_id, Username=email)
        return next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")

    def sign_in(self, email: str) -> dict[str, str]:
        """{"id": ID token, "access": access token} of a password sign-in."""
        result = self.client.admin_initiate_auth(
            UserPoolId=self.pool_id, ClientId=self.client_id, AuthFlow="ADMIN_NO_SRP_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})["AuthenticationResult"]
        return {"id": result["IdToken"], "access": result["AccessToken"]}


def create_pool(region: str = "us-east-1") -> Pool:
    client = boto3.client("cognito-idp", region_name=region)
    pool_id = client.create_user_pool(
        PoolName="tenant-platform-test",
        Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName="tenant-platform-app",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=["email", "email_verified", "custom:tenant_id"],
    )["UserPoolClient"]["ClientId"]
    for group in ("tenant_admin", "manager", "professional", "customer", ADMIN_GROUP, "platform_admin"):
        client.create_group(GroupName=group, UserPoolId=pool_id)
    return Pool(client, pool_id, client_id, region)


def cognito_environment(pool: Pool) -> dict[str, str]:
    """The claim mapping a stage trusting this pool sets (the README's Cognito example)."""
    return {
        "JWT_ISSUER": pool.issuer,
        "JWT_ALGORITHMS": "RS256",
        "JWT_JWKS": pool.jwks(),
        "JWT_AUDIENCE": pool.client_id,
        "JWT_ACCESS_TOKEN_CLIENT_IDS": pool.client_id,
        "JWT_TENANT_CLAIM": "custom:tenant_id",
        "JWT_TENANT_CLAIM_REQUIRED": "false",
        "JWT_ROLES_CLAIM": "cognito:groups",
        "JWT_ROLES_CLAIM_REQUIRED": "false",
        "JWT_PLATFORM_ADMIN_ROLE": ADMIN_GROUP,
    }


def trust(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    """Restart the app's view of its settings with ``environment`` (a new deployment)."""
    from chalicelib.settings import reset_settings

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    reset_settings()
