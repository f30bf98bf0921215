"""A tenant's integrations: one item per kind, public fields as data, secrets sealed.

The item is ``T#<tenant>#INTEG`` / ``<kind>``: ``data`` holds the provider, ``enabled`` and
the public fields; ``pii`` holds the secrets, sealed under the tenant's key (the same
``crypto.pii`` envelope as every other sealed document, so key rotation re-seals it).
Writes are versioned (If-Match for an existing integration) and carry their audit
event in the same transaction; the event lists which fields changed, secrets as
``[redacted]``, so an admin sees that a password changed but never a value.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pynamodb.transactions import TransactWrite

from chalicelib import audit
from chalicelib.clock import now_iso
from chalicelib.crypto import pii
from chalicelib.errors import (
    NotFoundError,
    PreconditionFailedError,
    PreconditionRequiredError,
    RequestValidationError,
    validation_error_from_pydantic,
)
from chalicelib.integrations.models import SECRET_FIELDS, IntegrationPut, Kind, ProviderSpec, spec_for, stripe_mode
from chalicelib.settings import get_settings
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem, TransactionCancelledError
from chalicelib.tenancy.context import current_context

# Audit field names: provider, enabled, config.<name>, secret.<name>; every secret.* is redacted.
AUDIT_SECRETS = frozenset(f"secret.{name}" for name in SECRET_FIELDS)


@dataclass(frozen=True)
class StoredIntegration:
    kind: Kind
    provider: str
    enabled: bool
    config: dict[str, Any]
    secrets: dict[str, str] = field(repr=False)
    version: int
    updated_at: str | None


def allow_private() -> bool:
    """Loopback and private hosts are allowed on the local stage only (local test servers)."""
    return get_settings().stage == "local"


def parse_kind(value: str) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        raise NotFoundError("no such integration kind") from None


def _pk() -> str:
    return data.partition(keys.INTEGRATION)


def _stored(item: DataItem) -> StoredIntegration:
    fields = data.loads(item.data)
    secrets = pii.unseal(keys.INTEGRATION, item.sk, item.pii) if item.pii else {}
    return StoredIntegration(Kind(item.sk), fields["provider"], bool(fields["enabled"]), fields["config"],
                             {k: str(v) for k, v in secrets.items()}, int(item.version or 1), item.updated_at)


def get_stored(kind: Kind) -> StoredIntegration | None:
    item = data.get(_pk(), kind.value)
    return _stored(item) if item is not None else None


def _invalid(loc: list[str], kind: str, msg: str) -> RequestValidationError:
    return RequestValidationError(msg, extra={"errors": [{"loc": loc, "type": kind, "msg": msg}]})


def _validated(part: str, model: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    try:
        parsed = model.model_validate(values, context={"allow_private": allow_private()})
    except ValidationError as exc:
        error = validation_error_from_pydantic(exc)
        for entry in error.extra["errors"]:
            entry["loc"].insert(1, part)
        raise error from None
    return {k: v for k, v in parsed.model_dump(mode="json").items() if v is not None}


def _owns_sender_domain(address: str) -> bool:
    """SES identities belong to the platform's account, not to a tenant: without this,
    a tenant could send as an identity verified for another. A tenant's domains are
    reserved to it in the registry, so its own domains (and their subdomains) are safe."""
    domain = address.rsplit("@", 1)[1].lower().rstrip(".")
    return any(domain == owned or domain.endswith("." + owned) for owned in current_context().tenant.domains)


def validate(kind: Kind, body: IntegrationPut, current: StoredIntegration | None) -> tuple[ProviderSpec, dict[str, Any],
                                                                                           dict[str, str]]:
    """The provider, public fields and secrets the PUT asks for, checked against the provider's schema."""
    spec = spec_for(kind, body.provider)
    if spec is None:
        raise _invalid(["body", "provider"], "unknown_provider", f"no such {kind.value} provider")
    secrets: dict[str, Any] = dict(current.secrets) if current is not None and current.provider == spec.name else {}
    for name, value in body.secrets.items():
        if value is None:
            secrets.pop(name, None)
        else:
            secrets[name] = value
    public = _validated("config", spec.public, body.config)
    sealed = _validated("secrets", spec.secrets, secrets)
    if spec.name == "ses" and not _owns_sender_domain(public["from_address"]):
        raise _invalid(["body", "config", "from_address"], "sender_domain_not_owned",
                       "SES sends only from one of the tenant's own domains (or a subdomain of one)")
    if spec.name == "stripe" and stripe_mode(public["publishable_key"]) != stripe_mode(sealed["secret_key"]):
        raise _invalid(["body", "secrets", "secret_key"], "mode_mismatch",
                       "the publishable and secret keys must both be test keys or both live keys")
    return spec, public, sealed


def _flat(provider: str, enabled: bool, config: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    return {"provider": provider, "enabled": enabled, **{f"config.{k}": v for k, v in config.items()},
            **{f"secret.{k}": v for k, v in secrets.items()}}


def _flat_stored(stored: StoredIntegration | None) -> dict[str, Any] | None:
    if stored is None:
        return None
    return _flat(stored.provider, stored.enabled, stored.config, stored.secrets)


def _check_version(current: StoredIntegration | None, expected: int | None) -> None:
    if current is None:
        return
    if expected is None:
        raise PreconditionRequiredError("send If-Match with the integration's ETag")
    if current.version != expected:
        raise PreconditionFailedError()


def put(kind: Kind, body: IntegrationPut, expected: int | None) -> tuple[StoredIntegration, bool]:
    """Create or replace the tenant's ``kind`` integration; (stored, created)."""
    current = get_stored(kind)
    _check_version(current, expected)
    spec, public, secrets = validate(kind, body, current)
    now = now_iso()
    version = 1 if current is None else current.version + 1
    item = data.new_item(pk=_pk(), sk=kind.value, kind=keys.INTEGRATION, entity_id=kind.value, version=version,
                         created_at=now, updated_at=now,
                         data=data.dumps({"provider": spec.name, "enabled": body.enabled, "config": public}),
                         pii=pii.seal(keys.INTEGRATION, kind.value, secrets) if secrets else None)
    condition = DataItem.pk.does_not_exist() if current is None else DataItem.version == current.version
    changes = audit.changes(_flat_stored(current), _flat(spec.name, body.enabled, public, secrets),
                            pii=AUDIT_SECRETS)

    def build(tx: TransactWrite) -> None:
        tx.save(item, condition=condition)  # reason 0
        audit.record(tx, audit.Action.INTEGRATION_UPDATED, audit.Target("integration", kind.value), changes=changes,
                     details={"operation": "created" if current is None else "updated", "version": version})

    try:
        data.transact(build)
    except TransactionCancelledError as exc:
        if exc.failed(0):
            raise PreconditionFailedError() from exc
        raise
    return StoredIntegration(kind, spec.name, body.enabled, public, secrets, version, now), current is None


def delete(kind: Kind, expected: int | None) -> None:
    """Remove the tenant's ``kind`` integration (the platform default applies again)."""
    current = get_stored(kind)
    if current is None:
        raise NotFoundError("this integration is not configured")
    if expected is not None and expected != current.version:
        raise PreconditionFailedError()

    def build(tx: TransactWrite) -> None:
        tx.delete(DataItem(pk=_pk(), sk=kind.value), condition=DataItem.version == current.version)  # reason 0
        audit.record(tx, audit.Action.INTEGRATION_UPDATED, audit.Target("integration", kind.value),
                     changes=audit.changes(_flat_stored(current), None, pii=AUDIT_SECRETS),
                     details={"operation": "deleted", "version": current.version})

    try:
        data.transact(build)
    except TransactionCancelledError as exc:
        if exc.failed(0):
            raise PreconditionFailedError() from exc
        raise
