"""Shared fixtures: moto in-process, signing keys, tenants and a TenantClient.

Tests that use ``mock_aws`` must not reach a real or local endpoint, so every
``AWS_ENDPOINT_URL*`` variable is removed before anything builds a client.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from moto import mock_aws

from tests.support.principals import ensure_member, ensure_member_for, seeding

# Records the AWS calls of the functions for the deployment contract (tests/infra/test_contract.py).
pytest_plugins = ["tests.infra.aws_calls"]

ROOT = Path(__file__).resolve().parents[1]
# Suites whose subject is not rate limiting send hundreds of requests a second as one
# tenant: they run under these limits (tests/*/test_rate_limit*.py use the real ones).
GENEROUS_RATE_LIMITS = (1_000_000.0, 1_000_000, 1_000_000_000)
ISSUER = "https://auth.localhost/tenant-platform"
AUDIENCE = "tenant-platform-api"


def _clear_endpoint_env() -> None:
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL"):
            del os.environ[name]


_clear_endpoint_env()
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    # Under pytest-xdist (make test), two workers may start local runners and CLIs at once:
    # make the .local dev signing key here, before any worker starts, so none races to write it.
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        from chalicelib.local.devkeys import ensure_dev_key

        ensure_dev_key()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """make test runs `-n auto --dist loadfile`: each module goes to one worker whole, in file
    order (module worlds, tests that must come last); tests/infra shares one CDK synthesis.
    (`--dist loadgroup` marks do not group on pytest 9 with pytest-xdist 3.8: the worker's
    node id suffix is lost, so it distributes test by test.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModuleScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "tests/infra" if module.startswith("tests/infra/") else module

    return ModuleScheduling(config, log)


@dataclass(frozen=True)
class SigningKeys:
    ec_key: Any
    ec_kid: str
    rsa_key: Any
    rsa_kid: str
    jwks: str


@pytest.fixture(scope="session")
def signing_keys() -> SigningKeys:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    ec_jwk.update({"kid": "test-ec", "alg": "ES256", "use": "sig"})
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    rsa_jwk.update({"kid": "test-rsa", "alg": "RS256", "use": "sig"})
    return SigningKeys(ec_key, "test-ec", rsa_key, "test-rsa", json.dumps({"keys": [ec_jwk, rsa_jwk]}))


def local_stage_env() -> dict[str, str]:
    from chalicelib.local.environment import stage_environment

    return stage_environment("local", ROOT)


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, signing_keys: SigningKeys) -> dict[str, str]:
    """The local stage's environment, with the test JWKS inline (ES256 and RS256)."""
    env = local_stage_env()
    env.pop("JWT_JWKS_FILE", None)
    env.update({"JWT_JWKS": signing_keys.jwks, "JWT_ALGORITHMS": "ES256,RS256"})
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("JWT_JWKS_FILE", raising=False)
    reset_process_state()
    yield env
    reset_process_state()


def reset_process_state() -> None:
    """What a fresh Lambda container would have (``chalicelib.entry.process.reset``), with
    limits no test reaches unless it asks for the real ones."""
    from chalicelib.entry.process import reset
    from chalicelib.ratelimit import service as rate_limit

    reset()
    rate_limit.use_limits_source(_generous_limits)


def _generous_limits(_tenant: Any) -> Any:
    from chalicelib.ratelimit import RateLimits

    return RateLimits(*GENEROUS_RATE_LIMITS)


@pytest.fixture
def aws_mock(app_env: dict[str, str]) -> Iterator[None]:
    from chalicelib.local.bootstrap import bootstrap
    from chalicelib.settings import get_settings

    with mock_aws(), seeding():
        reset_process_state()
        bootstrap(get_settings())
        yield
    reset_process_state()


def create_tenant(slug: str, **fields: Any) -> Any:
    from chalicelib.tenants.models import TenantCreate
    from chalicelib.tenants.service import create_tenant as create

    data = {"name": slug.title(), "display_name": slug.title(), **fields}
    return create(TenantCreate(slug=slug, **data))


def with_admin_principal(tenant: Any) -> Any:
    """The tenant with the identity of ``TenantClient``'s default token (``user-tenant_admin``)
    already a member, so the first request's token writes nothing (tests that inject store
    or KMS faults around a request see only the request's own calls)."""
    ensure_member(tenant.id, ISSUER, "user-tenant_admin", "tenant_admin", update=False)
    return tenant


@pytest.fixture
def tenant_a(aws_mock: None) -> Any:
    return with_admin_principal(create_tenant("acme", domains=["portal.acme-motors.example"]))


@pytest.fixture
def tenant_b(aws_mock: None) -> Any:
    return with_admin_principal(create_tenant("globex"))


class TokenFactory:
    def __init__(self, keys: SigningKeys) -> None:
        self.keys = keys

    def claims(self, *, role: str = "tenant_admin", tenant: Any = None, sub: str | None = None,
               ttl: int = 600, member: bool = True, **overrides: Any) -> dict[str, Any]:
        """A token's claims; ``member``: its identity is an active member of its tenant with
        its first role, unless it already is one (tests/support/principals.py)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": sub or f"user-{role}",
            "roles": [role], "iat": now, "exp": now + ttl,
        }
        if tenant is not None:
            claims["tenant_id"] = str(getattr(tenant, "id", tenant))
        claims.update(overrides)
        final = {k: v for k, v in claims.items() if v is not _DROP}
        if member:
            ensure_member_for(final)
        return final

    def sign(self, claims: dict[str, Any], *, alg: str = "ES256", headers: dict[str, Any] | None = None,
             member: bool = True) -> str:
        """The signed token; ``member``: as for :meth:`claims` (for claims changed since)."""
        if member:
            ensure_member_for(claims)
        key, kid = (self.keys.rsa_key, self.keys.rsa_kid) if alg.startswith(("RS", "PS")) else (
            self.keys.ec_key, self.keys.ec_kid)
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, **(headers or {})})

    def token(self, *, member: bool = True, **kwargs: Any) -> str:
        return self.sign(self.claims(member=member, **kwargs), member=False)


_DROP = object()
DROP = _DROP  # pass a claim as DROP to leave it out


@pytest.fixture
def tokens(signing_keys: SigningKeys) -> TokenFactory:
    return TokenFactory(signing_keys)


class TenantClient:
    """Sends requests through chalice.test as a given tenant and role."""

    def __init__(self, http: Any, tokens: TokenFactory) -> None:
        self.http = http
        self.tokens = tokens

    def request(self, method: str, path: str, *, tenant: Any = None, role: str | None = "tenant_admin",
                token: str | None = None, headers: dict[str, str] | None = None, body: Any = None) -> Any:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token is None and role is not None:
            token = self.tokens.token(role=role, tenant=None if role == "platform_admin" else tenant)
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        payload = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        return getattr(self.http, method.lower())(path, headers=all_headers, body=payload)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)


@pytest.fixture
def http(aws_mock: None, tmp_path: Path) -> Any:
    """chalice.test's HTTP client. Its project_dir has no config, so the environment set by
    ``app_env`` is what the app sees (Chalice would otherwise overlay config.json's)."""
    from chalice.test import Client

    from app import app

    with Client(app, project_dir=str(tmp_path)) as client:
        yield client.http


@pytest.fixture
def client(http: Any, tokens: TokenFactory) -> TenantClient:
    return TenantClient(http, tokens)


def body_of(response: Any) -> Any:
    return json.loads(response.body) if response.body else None


@contextmanager
def module_world(signing_keys: SigningKeys, project_dir: Path) -> Iterator[dict[str, Any]]:
    """app_env + aws_mock + two tenants + a chalice.test client, for a module-scoped fixture:
    modules whose tests change nothing shared pay moto's setup once, not per test."""
    from chalice.test import Client

    from app import app
    from chalicelib.local.bootstrap import bootstrap
    from chalicelib.settings import get_settings

    env = local_stage_env()
    env.pop("JWT_JWKS_FILE", None)
    env.update({"JWT_JWKS": signing_keys.jwks, "JWT_ALGORITHMS": "ES256,RS256"})
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL") or n == "JWT_JWKS_FILE"]:
            mp.delenv(name)
        for key, value in env.items():
            mp.setenv(key, value)
        with mock_aws(), seeding():
            reset_process_state()
            bootstrap(get_settings())
            acme = with_admin_principal(create_tenant("acme", domains=["portal.acme-motors.example"]))
            globex = with_admin_principal(create_tenant("globex", domains=["network.globex.example"]))
            http = Client(app, project_dir=str(project_dir)).http
            yield {"acme": acme, "globex": globex, "http": http,
                   "client": TenantClient(http, TokenFactory(signing_keys))}
        reset_process_state()


@pytest.fixture
def clock(client: TenantClient) -> Iterator[Any]:
    """Rate-limit tests: each tenant's real limits, and a limiter clock the test moves."""
    from chalicelib.ratelimit import service
    from tests.rate_limit_support import Clock, real_limits_with

    moved = Clock()
    real_limits_with(moved)
    yield moved
    service.reset_state()


@pytest.fixture
def dynamo_calls() -> Iterator[Any]:
    """DynamoDB operations by name, seen by a hook on every botocore session of the process."""
    from chalicelib import aws
    from tests.rate_limit_support import DynamoCalls

    calls = DynamoCalls()
    aws.install_session_hook("before-call.dynamodb", calls)
    yield calls
    aws.remove_session_hook("before-call.dynamodb", calls)
