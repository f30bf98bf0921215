"""Settings fail fast: a configuration that cannot run safely is refused at start, by name."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.local.environment import stage_environment
from chalicelib.settings import LOCAL_CURSOR_SIGNING_KEY, SettingsError, load_settings
from tests.conftest import ROOT

JWKS = '{"keys": []}'
SECRET = "s" * 40


def env_of(stage: str, **changes: str | None) -> dict[str, str]:
    """A stage's environment from .chalice/config.json, with ``changes`` (None removes)."""
    env = {**stage_environment(stage, ROOT), "AWS_REGION": "us-east-1"}
    if stage != "local":
        # Deployed stages get the tenant role's ARN from infra (it names the account).
        env.setdefault("TENANT_DATA_ROLE_ARN", f"arn:aws:iam::111122223333:role/tenant-platform-{stage}-tenant-data")
        # ...and the stage's own cursor signing key (a generated secret).
        env.setdefault("CURSOR_SIGNING_KEY", f"{stage}-cursor-signing-key-generated-by-infra")
        # ...and the names of the tables and buckets it creates (infra/platform_infra/stages.py).
        for name, suffix in (("REGISTRY_TABLE", "registry"), ("DATA_TABLE", "data"), ("EXPORTS_BUCKET", "exports"),
                             ("ASSETS_BUCKET", "assets")):
            env.setdefault(name, f"tenant-platform-{stage}-{suffix}")
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    return str(caught.value)


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
def test_every_configured_stage_loads(stage):
    settings = load_settings(env_of(stage))
    assert settings.stage == stage and settings.registry_table.endswith("-registry")


def test_settings_are_frozen():
    settings = load_settings(env_of("dev"))
    with pytest.raises(ValidationError):
        settings.jwt_issuer = "https://evil.example"  # type: ignore[misc]


# ---- missing values name their variable ---------------------------------------------------


@pytest.mark.parametrize(
    "variable",
    ["REGISTRY_TABLE", "DATA_TABLE", "EXPORTS_BUCKET", "EXPORTS_QUEUE", "PLATFORM_DOMAIN", "JWT_ISSUER",
     "JWT_AUDIENCE", "STAGE", "APP_NAME", "AWS_REGION", "JWT_ALGORITHMS"],
)
@pytest.mark.parametrize("how", ["missing", "empty"])
def test_a_missing_value_is_an_error_naming_the_variable(variable, how):
    env = env_of("dev", **{variable: None if how == "missing" else ""})
    assert variable in refusal(env)


def test_a_secret_is_never_echoed_in_the_error():
    message = refusal(env_of("prod", JWT_ALGORITHMS="RS256,HS256", JWT_HS256_SECRET=SECRET))
    assert SECRET not in message


# ---- algorithms ------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize("algorithms", ["HS256", "RS256,HS256"])
def test_hs256_is_refused_outside_local(stage, algorithms):
    env = env_of(stage, JWT_ALGORITHMS=algorithms, JWT_HS256_SECRET=SECRET)
    assert "HS256" in refusal(env)


def test_hs256_is_allowed_on_the_local_stage():
    settings = load_settings(env_of("local", JWT_ALGORITHMS="ES256,HS256", JWT_HS256_SECRET=SECRET))
    assert "HS256" in settings.jwt_algorithms


def test_hs256_needs_its_secret_and_the_secret_needs_hs256():
    assert "JWT_HS256_SECRET" in refusal(env_of("local", JWT_ALGORITHMS="ES256,HS256"))
    assert "JWT_HS256_SECRET" in refusal(env_of("local", JWT_HS256_SECRET=SECRET))


@pytest.mark.parametrize("algorithms", ["none", "RS256,none", "HS512", "rs256", ",", "EdDSA"])
def test_an_unsupported_algorithm_is_refused(algorithms):
    assert "JWT_ALGORITHMS" in refusal(env_of("local", JWT_ALGORITHMS=algorithms))


# ---- key sources ------------------------------------------------------------------------------

SOURCES = {
    "JWT_JWKS": JWKS,
    "JWT_JWKS_FILE": "/keys/jwks.json",
    "JWT_JWKS_URL": "https://auth.platform.example/.well-known/jwks.json",
}


def only(*names: str) -> dict[str, str | None]:
    return {name: (SOURCES[name] if name in names else None) for name in SOURCES}


@pytest.mark.parametrize("source", list(SOURCES))
def test_one_jwks_source_is_enough(source):
    assert load_settings(env_of("prod", **only(source))).jwt_algorithms == ("RS256",)


@pytest.mark.parametrize(
    "sources", [(), ("JWT_JWKS", "JWT_JWKS_FILE"), ("JWT_JWKS", "JWT_JWKS_URL"), tuple(SOURCES)], ids=repr
)
def test_exactly_one_jwks_source_is_required(sources):
    assert "exactly one of JWT_JWKS, JWT_JWKS_FILE, JWT_JWKS_URL" in refusal(env_of("prod", **only(*sources)))


def test_a_jwks_url_must_be_https_outside_local():
    env = env_of("prod", JWT_JWKS_URL="http://auth.platform.example/.well-known/jwks.json")
    assert "JWT_JWKS_URL must be https" in refusal(env)


# ---- tenant-scoped credentials ---------------------------------------------------------------

@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
def test_every_stage_assumes_the_tenant_role_by_default(stage):
    settings = load_settings(env_of(stage))
    assert settings.tenant_credentials == "assume_role" and settings.tenant_data_role_arn


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
def test_assume_role_without_a_role_arn_is_refused_by_name(stage):
    assert "TENANT_DATA_ROLE_ARN" in refusal(env_of(stage, TENANT_DATA_ROLE_ARN=None))


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_shared_credentials_are_refused_outside_local(stage):
    assert "TENANT_CREDENTIALS=shared" in refusal(env_of(stage, TENANT_CREDENTIALS="shared"))


def test_shared_credentials_are_accepted_locally_and_other_modes_are_not():
    assert load_settings(env_of("local", TENANT_CREDENTIALS="shared")).tenant_credentials == "shared"
    assert "TENANT_CREDENTIALS" in refusal(env_of("local", TENANT_CREDENTIALS="static"))


@pytest.mark.parametrize("arn", ["arn:aws:iam::12345:role/x", "arn:aws:sts::123456789012:assumed-role/x/y",
                                 "role/tenant-data", "arn:aws:iam::123456789012:user/x"])
def test_a_role_arn_that_is_not_an_iam_role_is_refused(arn):
    assert "TENANT_DATA_ROLE_ARN" in refusal(env_of("local", TENANT_DATA_ROLE_ARN=arn))


@pytest.mark.parametrize("seconds", ["899", "3601", "43200"])
def test_a_session_life_sts_would_refuse_is_refused(seconds):
    # The Lambda's role session assumes the tenant role: role chaining caps that at 1 hour.
    assert "TENANT_CREDENTIALS_SECONDS" in refusal(env_of("local", TENANT_CREDENTIALS_SECONDS=seconds))


def test_the_exports_queue_must_be_the_one_app_py_declares():
    message = refusal(env_of("dev", EXPORTS_QUEUE="tenant-platform-dev-exports"))
    assert "EXPORTS_QUEUE" in message and "tenant-platform-exports" in message


@pytest.mark.parametrize("variable,value", [("EXPORT_PART_SIZE_BYTES", str(5 * 1024 * 1024 - 1)),
                                            ("EXPORT_PAGE_SIZE", "0"), ("EXPORT_RETENTION_DAYS", "0"),
                                            ("PUBLIC_BASE_URL", "javascript:alert(1)")])
def test_export_settings_are_checked(variable, value):
    assert variable in refusal(env_of("dev", **{variable: value}))


# ---- the cursor signing key -----------------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_a_deployed_stage_needs_its_own_cursor_signing_key(stage):
    assert "CURSOR_SIGNING_KEY" in refusal(env_of(stage, CURSOR_SIGNING_KEY=None))
    assert "CURSOR_SIGNING_KEY" in refusal(env_of(stage, CURSOR_SIGNING_KEY="short"))
    assert "CURSOR_SIGNING_KEY" in refusal(env_of(stage, CURSOR_SIGNING_KEY=LOCAL_CURSOR_SIGNING_KEY))


def test_the_local_stage_has_a_default_cursor_signing_key_and_takes_another():
    assert load_settings(env_of("local")).cursor_signing_key == LOCAL_CURSOR_SIGNING_KEY
    given = "a-developer-chosen-cursor-key-of-32-bytes"
    assert load_settings(env_of("local", CURSOR_SIGNING_KEY=given)).cursor_signing_key == given
    assert given not in repr(load_settings(env_of("local", CURSOR_SIGNING_KEY=given)))
