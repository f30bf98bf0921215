"""JWT attacks against GET /api/tenant: every one is refused with problem+json, never a 500.

Authentication failures are 401 ``unauthorized``; a valid token that names another
tenant than the request is 403 ``tenant_mismatch``; a valid token whose roles grant
nothing is 403 ``forbidden``. Tokens the factory cannot make (``alg: none``, HMAC keyed
with a public key, tampered parts) are built by hand.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import (
    AUDIENCE,
    DROP,
    ISSUER,
    TenantClient,
    TokenFactory,
    body_of,
    module_world,
)

HS256_SECRET = "a-local-only-hs256-secret-of-32+bytes"


@pytest.fixture(scope="module")
def world(signing_keys, tmp_path_factory) -> Iterator[dict[str, Any]]:
    with module_world(signing_keys, tmp_path_factory.mktemp("chalice")) as built:
        yield built


@pytest.fixture(autouse=True)
def fresh_request_state(world) -> None:
    from chalicelib.tenancy import context
    from chalicelib.tenancy.resolution import clear_cache

    clear_cache()
    context.clear()


@pytest.fixture
def acme(world) -> Any:
    return world["acme"]


@pytest.fixture
def globex(world) -> Any:
    return world["globex"]


@pytest.fixture
def client(world, tokens) -> TenantClient:
    return TenantClient(world["http"], tokens)


@pytest.fixture
def hs256_enabled(world) -> Iterator[None]:
    """The local stage with HS256 allowed beside the JWKS algorithms."""
    from chalicelib.settings import reset_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JWT_ALGORITHMS", "ES256,RS256,HS256")
        mp.setenv("JWT_HS256_SECRET", HS256_SECRET)
        reset_settings()
        yield
    reset_settings()


# ---- helpers -----------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def part(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{part(header)}.{part(claims)}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def es256(tokens: TokenFactory, claims: Any, header: dict[str, Any] | None = None) -> str:
    """Signed by hand with the trusted EC key: pyjwt's encoder refuses ill-typed claims and kids."""
    fields = {"alg": "ES256", "typ": "JWT", "kid": tokens.keys.ec_kid, **(header or {})}
    signing_input = f"{part({k: v for k, v in fields.items() if v is not DROP})}.{part(claims)}"
    signer = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256)
    return f"{signing_input}.{b64(signer.sign(signing_input.encode(), tokens.keys.ec_key))}"


def send(client: TenantClient, authorization: str, headers: dict[str, str] | None = None) -> Any:
    return client.get("/api/tenant", role=None, headers={"Authorization": authorization, **(headers or {})})


def bearer(client: TenantClient, token: str, headers: dict[str, str] | None = None) -> Any:
    return send(client, f"Bearer {token}", headers)


def assert_refused(response: Any, status: int = 401, code: str = "unauthorized") -> None:
    assert response.status_code == status, body_of(response)
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = body_of(response)
    assert problem["code"] == code and problem["status"] == status
    assert "Traceback" not in response.body.decode()
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def assert_served(response: Any, tenant: Any) -> None:
    assert response.status_code == 200, body_of(response)
    assert body_of(response)["id"] == str(tenant.id)


# ---- the tokens that must work (so every refusal below is meaningful) ---------------------


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_valid_token_is_accepted(client, tokens, acme, alg):
    token = tokens.sign(tokens.claims(tenant=acme), alg=alg)
    assert_served(bearer(client, token), acme)


def test_the_scheme_is_case_insensitive(client, tokens, acme):
    assert_served(send(client, f"bearer {tokens.token(tenant=acme)}"), acme)


def test_hs256_is_accepted_only_where_configured(client, tokens, acme, hs256_enabled):
    token = jwt.encode(tokens.claims(tenant=acme), HS256_SECRET, algorithm="HS256")
    assert_served(bearer(client, token), acme)


# ---- algorithm and key attacks -------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(client, tokens, acme, alg):
    token = f"{part({'alg': alg, 'typ': 'JWT'})}.{part(tokens.claims(tenant=acme))}."
    assert_refused(bearer(client, token))


@pytest.mark.parametrize("hs256_configured", [False, True])
def test_hs256_keyed_with_the_rsa_public_key_is_refused(client, tokens, acme, signing_keys, hs256_configured, request):
    # Given the verifier's own RSA public key, as a PEM, used as an HMAC secret (key confusion)
    if hs256_configured:
        request.getfixturevalue("hs256_enabled")
    pem = signing_keys.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (pem, pem.strip()):
        token = hs256({"alg": "HS256", "typ": "JWT", "kid": signing_keys.rsa_kid}, tokens.claims(tenant=acme), secret)
        # Then the token is refused, whether or not HS256 is an allowed algorithm
        assert_refused(bearer(client, token))


def test_hs256_is_refused_when_not_configured(client, tokens, acme):
    token = jwt.encode(tokens.claims(tenant=acme), HS256_SECRET, algorithm="HS256")
    assert_refused(bearer(client, token))


@pytest.mark.parametrize(
    ("alg", "signer", "kid"),
    [
        ("RS256", "rsa", "test-ec"),  # a real kid, but of an EC key
        ("ES256", "ec", "test-rsa"),  # a real kid, but of an RSA key
        ("PS256", "rsa", "test-rsa"),  # a real key, but PS256 is not configured
        ("ES384", "p384", "test-ec"),  # not configured either
    ],
)
def test_an_algorithm_that_does_not_fit_the_configuration_is_refused(client, tokens, acme, alg, signer, kid):
    key = {"rsa": tokens.keys.rsa_key, "ec": tokens.keys.ec_key}.get(signer) or ec.generate_private_key(ec.SECP384R1())
    token = jwt.encode(tokens.claims(tenant=acme), key, algorithm=alg, headers={"kid": kid})
    assert_refused(bearer(client, token))


def test_a_tampered_payload_is_refused(client, tokens, acme, globex):
    # Given a valid token for acme whose payload is re-encoded to name globex (otherwise valid claims)
    header, _, signature = tokens.token(tenant=acme).split(".")
    forged = part(tokens.claims(tenant=globex))
    # Then the original signature does not cover it
    assert_refused(bearer(client, f"{header}.{forged}.{signature}"))


@pytest.mark.parametrize("strip", ["empty", "missing", "truncated"])
def test_a_stripped_signature_is_refused(client, tokens, acme, strip):
    header, payload, signature = tokens.token(tenant=acme).split(".")
    token = {
        "empty": f"{header}.{payload}.",
        "missing": f"{header}.{payload}",
        "truncated": f"{header}.{payload}.{signature[:-4]}",
    }[strip]
    assert_refused(bearer(client, token))


@pytest.mark.parametrize(
    "kid", [DROP, None, "", "unknown-kid", 7, ["test-ec"], "test-ec" * 40, "../../etc/passwd"],
    ids=lambda kid: "DROP" if kid is DROP else repr(kid),  # an address would differ between xdist workers
)
def test_a_kid_that_names_no_configured_key_is_refused(client, tokens, acme, kid):
    # Signed with the trusted key, so only the kid is wrong
    token = es256(tokens, tokens.claims(tenant=acme), {"kid": kid})
    assert_refused(bearer(client, token))


@pytest.fixture
def no_network(monkeypatch) -> list[Any]:
    """Records (and blocks) every attempt to resolve a name or open a connection."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("network access attempted during a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.mark.parametrize("kid", ["attacker", "test-ec"])
@pytest.mark.parametrize("source", ["jwk", "jku", "x5u"])
def test_a_key_supplied_by_the_token_is_ignored(client, tokens, acme, no_network, source, kid):
    # Given a token signed with the attacker's key, pointing at (or embedding) that key
    attacker = ec.generate_private_key(ec.SECP256R1())
    public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key())) | {"kid": kid}
    header = {
        "jwk": public_jwk,
        "jku": "https://attacker.example/.well-known/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
    }
    token = jwt.encode(
        tokens.claims(tenant=acme), attacker, algorithm="ES256", headers={"kid": kid, source: header[source]}
    )
    # When it is presented
    response = bearer(client, token)
    # Then it is refused, and nothing was fetched
    assert_refused(response)
    assert no_network == []


@pytest.mark.parametrize("crit", [["exp"], ["x-unknown"], ["b64"], [], "x-unknown"], ids=repr)
def test_an_unknown_or_malformed_crit_header_is_refused(client, tokens, acme, crit):
    # A validly signed token whose header declares an extension the verifier must understand
    token = tokens.sign(tokens.claims(tenant=acme), headers={"crit": crit, "x-unknown": True})
    assert_refused(bearer(client, token))


@pytest.mark.parametrize(
    "garbage",
    ["abc", "a.b.c", "...", "e30.e30.", f"{part([1])}.{part({})}.x", f"{b64(b'{not json')}.{part({})}.x", "é.é.é"],
)
def test_a_malformed_token_is_refused(client, garbage):
    assert_refused(bearer(client, garbage))


# ---- claims --------------------------------------------------------------------------------

NOW = int(time.time())


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "exp", "iat", "roles", "tenant_id"])
def test_a_missing_required_claim_is_refused(client, tokens, acme, claim):
    token = es256(tokens, tokens.claims(tenant=acme, **{claim: DROP}))
    assert_refused(bearer(client, token))


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "exp", "iat", "roles", "tenant_id"])
def test_a_null_required_claim_is_refused(client, tokens, acme, claim):
    token = es256(tokens, tokens.claims(tenant=acme) | {claim: None})
    assert_refused(bearer(client, token))


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"exp": NOW - 3600, "iat": NOW - 7200}, id="expired"),
        pytest.param({"nbf": NOW + 3600}, id="nbf-in-the-future"),
        pytest.param({"iat": NOW + 3600}, id="iat-in-the-future"),
        pytest.param({"exp": str(NOW + 3600)}, id="exp-as-string"),
        pytest.param({"exp": float("inf")}, id="exp-infinite"),
        pytest.param({"exp": [NOW + 3600]}, id="exp-as-list"),
        pytest.param({"iat": str(NOW)}, id="iat-as-string"),
        pytest.param({"nbf": str(NOW - 60)}, id="nbf-as-string"),
        pytest.param({"nbf": "soon"}, id="nbf-not-a-number"),
        pytest.param({"iss": "https://evil.example/tenant-platform"}, id="wrong-iss"),
        pytest.param({"iss": ISSUER[:-1]}, id="iss-a-prefix-of-ours"),
        pytest.param({"iss": ISSUER + "-evil"}, id="iss-with-ours-as-prefix"),
        pytest.param({"iss": ISSUER + "/"}, id="iss-with-trailing-slash"),
        pytest.param({"iss": [ISSUER]}, id="iss-as-list"),
        pytest.param({"aud": "another-api"}, id="wrong-aud"),
        pytest.param({"aud": AUDIENCE[:-1]}, id="aud-a-prefix-of-ours"),
        pytest.param({"aud": AUDIENCE + "-admin"}, id="aud-with-ours-as-prefix"),
        pytest.param({"aud": ["another-api", AUDIENCE]}, id="aud-shared-with-another-api"),
        pytest.param({"sub": ""}, id="sub-empty"),
        pytest.param({"sub": 42}, id="sub-a-number"),
        pytest.param({"roles": "tenant_admin"}, id="roles-a-string"),
        pytest.param({"roles": {"tenant_admin": True}}, id="roles-an-object"),
        pytest.param({"roles": [1]}, id="roles-not-strings"),
        pytest.param({"tenant_id": "not-a-uuid"}, id="tenant-not-a-uuid"),
        pytest.param({"tenant_id": 12345}, id="tenant-a-number"),
        pytest.param({"tenant_id": ""}, id="tenant-empty"),
    ],
)
def test_an_invalid_claim_is_refused(client, tokens, acme, overrides):
    token = es256(tokens, tokens.claims(tenant=acme) | overrides)
    assert_refused(bearer(client, token))


def test_a_tenant_claim_as_a_list_is_refused(client, tokens, acme):
    token = es256(tokens, tokens.claims(tenant=acme) | {"tenant_id": [str(acme.id)]})
    assert_refused(bearer(client, token))


def test_a_tenant_claim_as_a_number_is_refused(client, tokens, acme):
    token = es256(tokens, tokens.claims(tenant=acme) | {"tenant_id": acme.id.int})
    assert_refused(bearer(client, token))


def test_a_token_that_is_both_platform_admin_and_tenant_scoped_is_refused(client, tokens, acme):
    # Given a token with the platform_admin role and a tenant claim
    token = tokens.sign(tokens.claims(tenant=acme, role="platform_admin"))
    # Then it is refused: it would be a platform admin acting without naming the tenant
    assert_refused(bearer(client, token))


def test_another_tenants_token_with_this_tenants_header_is_a_mismatch(client, tokens, acme, globex):
    # Given a valid token of globex, sent with X-Tenant-ID naming acme
    response = bearer(client, tokens.token(tenant=globex), {"X-Tenant-ID": str(acme.id)})
    # Then acme is not served to globex's user
    assert_refused(response, 403, "tenant_mismatch")


@pytest.mark.parametrize("roles", [["no_such_role"], ["TENANT_ADMIN"], ["tenant_admin "]], ids=repr)
def test_roles_that_grant_nothing_are_forbidden(client, tokens, acme, roles):
    # A member whose role (as the token named it when it joined) is no role of the tenant
    sub = f"odd-role-{roles[0].strip().lower()}-{len(roles[0])}"
    token = tokens.sign(tokens.claims(tenant=acme, sub=sub, member=False) | {"roles": roles})
    assert_refused(bearer(client, token), 403, "forbidden")


def test_a_token_with_no_roles_and_no_member_record_is_not_a_member(client, tokens, acme):
    token = tokens.sign(tokens.claims(tenant=acme, sub="no-roles", member=False) | {"roles": []})
    assert_refused(bearer(client, token), 403, "not_a_member")


# ---- the header itself ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [10 * 1024, 1024 * 1024], ids=["10KB", "1MB"])
def test_an_oversized_authorization_header_is_refused(client, tokens, acme, size):
    token = tokens.sign(tokens.claims(tenant=acme, padding="x" * size))
    assert_refused(bearer(client, token))


@pytest.mark.parametrize("scheme", ["Basic", "Token", "JWT", "Bearer:", "", "Digest"])
def test_a_scheme_other_than_bearer_is_refused(client, tokens, acme, scheme):
    value = f"{scheme} {tokens.token(tenant=acme)}".strip()
    assert_refused(send(client, value))


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer    ", " "])
def test_a_bearer_without_a_token_is_refused(client, value):
    assert_refused(send(client, value))
