"""Token policy beyond the signature: lifetime cap, per-key algorithm, broken key configuration."""
from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.auth.tokens import TokenVerifier
from chalicelib.errors import InternalError, UnauthorizedError
from chalicelib.settings import SettingsError, load_settings
from tests.conftest import AUDIENCE, ISSUER, local_stage_env


def settings_with(**env: str):
    base = {**local_stage_env(), "AWS_REGION": "us-east-1"}
    base.pop("JWT_JWKS_FILE", None)
    base.update(env)
    return load_settings(base)


def claims(lifetime: int) -> dict:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "roles": ["platform_admin"], "iat": now, "exp": now + lifetime}


@pytest.fixture(scope="module")
def rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "rs", "alg": "RS256"})
    return key, json.dumps({"keys": [jwk]})


def test_a_token_that_lives_longer_than_the_cap_is_refused(rsa_key):
    key, jwks = rsa_key
    verifier = TokenVerifier(settings_with(JWT_JWKS=jwks, JWT_ALGORITHMS="RS256", JWT_MAX_LIFETIME_SECONDS="3600"))
    assert verifier.verify(jwt.encode(claims(3600), key, algorithm="RS256", headers={"kid": "rs"})).sub == "u"
    with pytest.raises(UnauthorizedError):
        verifier.verify(jwt.encode(claims(3601), key, algorithm="RS256", headers={"kid": "rs"}))


def test_a_key_published_for_rs256_does_not_verify_ps256(rsa_key):
    key, jwks = rsa_key
    verifier = TokenVerifier(settings_with(JWT_JWKS=jwks, JWT_ALGORITHMS="RS256,PS256"))
    with pytest.raises(UnauthorizedError):
        verifier.verify(jwt.encode(claims(60), key, algorithm="PS256", headers={"kid": "rs"}))


def _segment(document: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def test_a_broken_jwks_is_a_server_error_not_a_401():
    # Given a deployment whose configured JWKS is not JSON
    verifier = TokenVerifier(settings_with(JWT_JWKS="{not json", JWT_ALGORITHMS="ES256"))
    token = ".".join([_segment({"alg": "ES256", "kid": "k"}), _segment(claims(60)), "c2ln"])
    # Then a request is our failure (500, logged), not a client's 401
    with pytest.raises(InternalError):
        verifier.verify(token)


def test_short_hs256_secrets_are_refused_at_startup():
    with pytest.raises(SettingsError, match="JWT_HS256_SECRET"):
        settings_with(JWT_ALGORITHMS="HS256", JWT_HS256_SECRET="short", JWT_JWKS_FILE="")
