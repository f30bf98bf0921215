"""The real local runner (`make run`) as a test fixture: started on two free ports, its output
in files, stopped with SIGTERM. Shared by the integration modules that drive it over HTTP."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from chalicelib.local.environment import stage_environment

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 10
CLI_TIMEOUT = 30
LOCAL = stage_environment("local", ROOT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment minus anything that would point AWS clients elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(extra)
    return env


def cli_env(**extra: str) -> dict[str, str]:
    env = child_env()
    env.pop("STAGE", None)  # a developer's exported STAGE must not change what these tests see
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "chalicelib.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT,
    )


@dataclass
class Runner:
    process: subprocess.Popen[bytes]
    port: int
    aws_port: int
    stdout_path: Path
    stderr_path: Path

    @property
    def http_dir(self) -> Path:
        """Where this run wrote its HTTP collection (not the developer's ``.local/http``)."""
        return self.stdout_path.parent / "http"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def cli(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=cli_env(LOCAL_AWS_PORT=str(self.aws_port), **extra))

    def token(self, *args: str) -> str:
        result = self.cli("token", *args)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def cognito_tokens(self, email: str, tenant_id: str | None = None, groups: tuple[str, ...] = ()) -> dict[str, str]:
        """Sign in a user of this run's local Cognito pool (created if missing): its tokens."""
        import boto3

        from chalicelib.local.identity import ensure_user, find_pool, sign_in

        cognito = boto3.client("cognito-idp", endpoint_url=self.aws_endpoint, region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")
        pool = find_pool(cognito, self.aws_endpoint)
        assert pool is not None
        ensure_user(cognito, pool, email, tenant_id=tenant_id, groups=groups)
        return dict(sign_in(cognito, pool, email))

    def assert_alive(self) -> None:
        assert self.process.poll() is None, f"the runner exited early:\n{self.stderr()[-3000:]}"


def _wait_for_health(runner: Runner) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if runner.process.poll() is not None:
            pytest.fail(f"the runner exited with {runner.process.returncode}:\n{runner.stderr()[-3000:]}")
        try:
            if requests.get(f"{runner.api}/api/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"the runner did not answer /api/health within {STARTUP_TIMEOUT} s:\n{runner.stderr()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def _start_runner(directory: Path) -> Runner:
    directory.mkdir(parents=True, exist_ok=True)
    port, aws_port = free_port(), free_port()
    while aws_port == port:
        aws_port = free_port()
    stdout_path, stderr_path = directory / "stdout.txt", directory / "stderr.txt"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        # Output goes to files, not pipes: a pipe nobody reads would block the runner's logging.
        process = subprocess.Popen(
            [PYTHON, "-m", "chalicelib.local", "--port", str(port), "--aws-port", str(aws_port),
             "--http-dir", str(directory / "http")],
            cwd=ROOT, env=child_env(), stdout=out, stderr=err,
        )
    return Runner(process, port, aws_port, stdout_path, stderr_path)


@contextmanager
def running_runner(directory: Path) -> Iterator[Runner]:
    """``make run`` on two free ports, its output in files under ``directory``; stopped on exit.

    A free port can be taken by another process (another xdist worker) before the runner
    binds it: the runner then refuses with "already in use", and is started on new ports."""
    for attempt in range(3):
        handle = _start_runner(directory / f"attempt-{attempt}")
        try:
            handle.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            break
        if attempt == 2 or "already in use" not in handle.stderr():
            break
    try:
        _wait_for_health(handle)
        yield handle
    finally:
        _stop(handle.process)
