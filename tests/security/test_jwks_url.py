"""Keys from an identity provider's JWKS URL: fetched with a timeout, cached, refetched
for an unknown ``kid`` at most once per cooldown, and an unreachable provider is a 503."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.auth.tokens import TokenVerifier
from chalicelib.errors import ServiceUnavailableError, UnauthorizedError
from chalicelib.settings import load_settings
from tests.conftest import AUDIENCE, ISSUER, local_stage_env


class IdentityProvider:
    """A JWKS endpoint on loopback that counts its hits and can be slowed down."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.hits = 0
        self.delay = 0.0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                provider.hits += 1
                time.sleep(provider.delay)
                body = json.dumps({"keys": [provider.public_jwk(k) for k in provider.keys]}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the verifier timed out and hung up, as the slow-provider test wants

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_key(self, kid: str) -> None:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())

    def public_jwk(self, kid: str) -> dict:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**jwk, "kid": kid, "alg": "ES256", "use": "sig"}

    def token(self, kid: str) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "roles": ["platform_admin"], "iat": now, "exp": now + 60}
        return jwt.encode(claims, self.keys[kid], algorithm="ES256", headers={"kid": kid})


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    provider.add_key("k1")
    yield provider
    provider.server.shutdown()


def verifier_for(url: str, cooldown: int = 300, timeout: float = 3.0) -> TokenVerifier:
    env = {**local_stage_env(), "AWS_REGION": "us-east-1", "JWT_JWKS_URL": url,
           "JWKS_COOLDOWN_SECONDS": str(cooldown), "JWKS_FETCH_TIMEOUT_SECONDS": str(timeout)}
    env.pop("JWT_JWKS_FILE", None)
    return TokenVerifier(load_settings(env))


def test_keys_are_fetched_once_and_cached(idp):
    verifier = verifier_for(idp.url)
    for _ in range(5):
        assert verifier.verify(idp.token("k1")).sub == "u"
    assert idp.hits == 1


def test_unknown_kids_refetch_at_most_once_per_cooldown(idp):
    verifier = verifier_for(idp.url, cooldown=300)
    verifier.verify(idp.token("k1"))
    stranger = IdentityProvider()
    stranger.add_key("random-kid")
    try:
        for _ in range(20):
            with pytest.raises(UnauthorizedError):
                verifier.verify(stranger.token("random-kid"))
    finally:
        stranger.server.shutdown()
    assert idp.hits == 2  # the first fetch, and one refetch for the whole flood


def test_a_rotated_in_key_is_found_by_a_refetch(idp):
    verifier = verifier_for(idp.url, cooldown=1)
    verifier.verify(idp.token("k1"))
    idp.add_key("k2")
    time.sleep(1.1)  # past the cooldown: an unknown kid may trigger one refetch
    assert verifier.verify(idp.token("k2")).sub == "u"


def test_an_unreachable_provider_is_a_503(idp):
    token = idp.token("k1")
    idp.server.shutdown()
    idp.server.server_close()
    with pytest.raises(ServiceUnavailableError):
        verifier_for(idp.url).verify(token)


def test_a_slow_provider_times_out_as_a_503(idp):
    idp.delay = 2.0
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError):
        verifier_for(idp.url, timeout=0.3).verify(idp.token("k1"))
    assert time.monotonic() - started < 1.9
