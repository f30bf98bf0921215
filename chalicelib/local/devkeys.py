"""The local development signing key (ES256), made on first use under .local/.

The local stage verifies tokens exactly as production does, from a JWKS, so the
asymmetric code path is the one every local request exercises.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.local.environment import LOCAL_DIR

PRIVATE_KEY_FILE = "dev-signing-key.pem"
JWKS_FILE = "jwks.json"
KID_FILE = "dev-signing-key.kid"


def ensure_dev_key(directory: Path = LOCAL_DIR) -> tuple[Any, str]:
    """Return (private key, kid), creating the key pair and JWKS if they do not exist."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / PRIVATE_KEY_FILE
    if private_path.exists() and (directory / KID_FILE).exists() and (directory / JWKS_FILE).exists():
        key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        return key, (directory / KID_FILE).read_text().strip()
    key = ec.generate_private_key(ec.SECP256R1())
    kid = f"local-{uuid.uuid4().hex[:12]}"
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    public_jwk.update({"kid": kid, "alg": "ES256", "use": "sig"})
    (directory / JWKS_FILE).write_text(json.dumps({"keys": [public_jwk]}, indent=2))
    (directory / KID_FILE).write_text(kid)
    return key, kid


def issue_token(
    *,
    issuer: str,
    audience: str,
    sub: str,
    ttl_seconds: int,
    claims: dict[str, Any] | None = None,
    directory: Path = LOCAL_DIR,
) -> str:
    """A token signed with the development key; ``claims`` under the stage's mapped names."""
    key, kid = ensure_dev_key(directory)
    now = int(time.time())
    payload: dict[str, Any] = {
        **(claims or {}), "iss": issuer, "aud": audience, "sub": sub, "iat": now, "exp": now + ttl_seconds,
    }
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": kid})
