"""The local stage's environment, read from .chalice/config.json like Chalice does."""
from __future__ import annotations

import json
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
LOCAL_DIR = PROJECT_DIR / ".local"
# Written by `make run` once its Cognito pool exists (chalicelib/local/identity.py): the
# claim mapping that trusts it, read by every local process (the runner, the CLI).
IDENTITY_FILE = LOCAL_DIR / "identity.json"
DEFAULT_AWS_PORT = 4566
DEFAULT_API_PORT = 8000
LOCAL_REGION = "us-east-1"


def stage_environment(stage: str = "local", project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    if env.get("JWT_JWKS_FILE") and not os.path.isabs(env["JWT_JWKS_FILE"]):
        env["JWT_JWKS_FILE"] = str(project_dir / env["JWT_JWKS_FILE"])
    return env


def local_aws_environment(aws_port: int) -> dict[str, str]:
    """Point every AWS client of this process (and its children) at moto's server."""
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws_port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_REGION": LOCAL_REGION,
    }


def identity_environment() -> dict[str, str]:
    """The local pool's claim mapping, once a `make run` has written it; else nothing."""
    if not IDENTITY_FILE.exists():
        return {}
    return {str(k): str(v) for k, v in json.loads(IDENTITY_FILE.read_text()).items()}


def apply_local_environment(aws_port: int) -> dict[str, str]:
    env = {**stage_environment("local"), **identity_environment(), **local_aws_environment(aws_port)}
    # botocore ranks a service-specific AWS_ENDPOINT_URL_<SERVICE> above AWS_ENDPOINT_URL:
    # one left in a developer's shell would send that service's calls past moto.
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
        del os.environ[name]
    os.environ.update(env)
    return env
