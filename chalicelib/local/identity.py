"""The local identity provider: a Cognito user pool in moto, trusted like a real one.

``make run`` creates the pool (with its app client and one group per role plus the
platform-admin group), points the app's claim mapping at it (issuer, ``aud`` = the
client id for ID tokens, ``client_id`` + ``token_use`` for access tokens,
``custom:tenant_id``, ``cognito:groups``, ``platform-admins``) and writes the keys the
app verifies with: the pool's JWKS, read from moto's JWKS URL, plus the development
key's public key, so the CLI's ``token --dev-key`` can still mint odd tokens under the
same issuer. moto's Cognito signs RS256 (kid ``dummy``); the dev key signs ES256.
Nothing here runs outside the local stage.
"""
from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from chalicelib.local.environment import LOCAL_DIR, LOCAL_REGION

POOL_NAME = "tenant-platform-local"
CLIENT_NAME = "tenant-platform-local-app"
ADMIN_GROUP = "platform-admins"
TENANT_ATTRIBUTE = "custom:tenant_id"
ROLE_GROUPS = ("tenant_admin", "manager", "professional", "customer")
# moto's pool only: users are created with it and sign in with it, never typed by anyone.
LOCAL_PASSWORD = "Local-Only-Passw0rd!"
JWKS_FILE = "jwks.json"


@dataclass(frozen=True)
class LocalPool:
    pool_id: str
    client_id: str
    endpoint: str
    region: str = LOCAL_REGION

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json"


def find_pool(cognito: Any, endpoint: str) -> LocalPool | None:
    pool_id = next((p["Id"] for p in cognito.list_user_pools(MaxResults=60)["UserPools"]
                    if p["Name"] == POOL_NAME), None)
    if pool_id is None:
        return None
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((c["ClientId"] for c in clients if c["ClientName"] == CLIENT_NAME), None)
    return LocalPool(pool_id, client_id, endpoint) if client_id else None


def ensure_pool(cognito: Any, endpoint: str) -> LocalPool:
    """The local pool, its app client and groups (created once per local AWS)."""
    found = find_pool(cognito, endpoint)
    if found is not None:
        return found
    pool_id = cognito.create_user_pool(
        PoolName=POOL_NAME,
        Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName=CLIENT_NAME,
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=["email", "email_verified", TENANT_ATTRIBUTE])
    for group in (*ROLE_GROUPS, ADMIN_GROUP):
        cognito.create_group(GroupName=group, UserPoolId=pool_id)
    found = find_pool(cognito, endpoint)
    assert found is not None  # created just above
    return found


def claim_environment(pool: LocalPool, jwks_file: Path) -> dict[str, str]:
    """The app's settings for trusting the local pool (the README's Cognito example)."""
    return {
        "JWT_ISSUER": pool.issuer,
        "JWT_AUDIENCE": pool.client_id,
        "JWT_ACCESS_TOKEN_CLIENT_IDS": pool.client_id,
        "JWT_ALGORITHMS": "RS256,ES256",
        "JWT_JWKS_FILE": str(jwks_file),
        "JWT_TENANT_CLAIM": TENANT_ATTRIBUTE,
        "JWT_TENANT_CLAIM_REQUIRED": "false",
        "JWT_ROLES_CLAIM": "cognito:groups",
        "JWT_ROLES_CLAIM_REQUIRED": "false",
        "JWT_PLATFORM_ADMIN_ROLE": ADMIN_GROUP,
    }


def write_jwks(pool: LocalPool, dev_key: Any, dev_kid: str, directory: Path = LOCAL_DIR) -> Path:
    """The pool's published keys plus the development key's public key, as one JWKS file."""
    with urllib.request.urlopen(pool.jwks_url, timeout=10) as response:  # noqa: S310 - moto on loopback
        keys = json.loads(response.read())["keys"]
    dev = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(dev_key.public_key()))
    dev.update({"kid": dev_kid, "alg": "ES256", "use": "sig"})
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / JWKS_FILE
    path.write_text(json.dumps({"keys": [*keys, dev]}, indent=2))
    return path


def ensure_user(cognito: Any, pool: LocalPool, email: str, *, tenant_id: str | None, groups: tuple[str, ...]) -> str:
    """A confirmed user with a verified email (created or brought up to date); its ``sub``."""
    attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
    if tenant_id is not None:
        attributes.append({"Name": TENANT_ATTRIBUTE, "Value": tenant_id})
    try:
        cognito.admin_create_user(UserPoolId=pool.pool_id, Username=email, UserAttributes=attributes,
                                  MessageAction="SUPPRESS")
    except cognito.exceptions.UsernameExistsException:
        cognito.admin_update_user_attributes(UserPoolId=pool.pool_id, Username=email, UserAttributes=attributes)
    cognito.admin_set_user_password(UserPoolId=pool.pool_id, Username=email, Password=LOCAL_PASSWORD,
                                    Permanent=True)
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=email, GroupName=group)
    user = cognito.admin_get_user(UserPoolId=pool.pool_id, Username=email)
    return str(next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub"))


def sign_in(cognito: Any, pool: LocalPool, email: str) -> dict[str, str]:
    """{"id": ID token, "access": access token} of a password sign-in through the pool."""
    result = cognito.admin_initiate_auth(
        UserPoolId=pool.pool_id, ClientId=pool.client_id, AuthFlow="ADMIN_NO_SRP_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": LOCAL_PASSWORD})["AuthenticationResult"]
    return {"id": result["IdToken"], "access": result["AccessToken"]}
