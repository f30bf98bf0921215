"""Tenants' custom domains: a certificate and an API Gateway domain name each, kept in step
with the domains a tenant holds.

A state machine per domain (``records``), advanced one idempotent step at a time:

- ``pending_validation``: request the DNS-validated certificate (tagged with the tenant)
  and record it; record the CNAME the tenant must publish; once ACM says ``ISSUED``,
  make the regional domain name and its root mapping to the API stage -> ``ready`` (with
  the target the tenant's DNS must point at). ACM giving up -> ``failed``.
- ``removing`` (the domain was unmapped, or its tenant deleted): delete the mapping, the
  domain name, then the certificate, and then the record.

The tenant's PUT writes the new domains' records and marks the removed ones in the same
transaction as the reservations (:func:`stage`), so no AWS resource is ever left without
a record naming it. The AWS steps run after it commits (and at GET, and every five
minutes in ``jobs/domains.py``): each step's result is written only after AWS answered,
conditioned on the state it started from, so an AWS failure leaves the domain where it
was and the next run repeats the step.
"""
from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domains import gateway, records
from chalicelib.domains.records import DomainState, DomainStatus
from chalicelib.errors import ConflictError
from chalicelib.logs import get_logger
from chalicelib.store.unit_of_work import UnitOfWork

log = get_logger(__name__)
# One scheduled run reads at most this many pages of domains with work left: a run stays
# well inside its Lambda timeout however many domains wait; the rest go next time.
PAGE_SIZE = 25
MAX_PAGES = 4


def check_claimable(domains: Iterable[str]) -> None:
    """409 ``domain_removal_pending`` for a domain whose previous holder's resources are
    still being removed (API Gateway holds one domain name per account and region)."""
    for domain in domains:
        state = records.get(domain)
        # Held by a tenant otherwise: its reservation answers (409 domain_taken).
        if state is not None and state.status == DomainStatus.REMOVING:
            raise ConflictError("that domain's previous resources are still being removed; retry in a few minutes",
                                extra={"conflict": "domain_removal_pending"})


def stage(uow: UnitOfWork, tenant_id: UUID, added: Iterable[str], removed: Iterable[str]) -> None:
    """In the transaction that moves the tenant's reservations: records for ``added``
    (pending) and ``removed`` (to remove)."""
    for domain in added:
        records.add_in(uow, tenant_id, domain)
    for domain in removed:
        state = records.get(domain)
        if state is not None and state.tenant_id == tenant_id and state.status != DomainStatus.REMOVING:
            records.remove_in(uow, state)


def adopt(tenant_id: UUID, domains: Iterable[str]) -> None:
    """Records for a tenant's domains that have none (a tenant created with domains)."""
    for domain in domains:
        state = records.create(tenant_id, domain)
        if state is not None:
            converge([state])


def release(tenant_id: UUID, domains: Iterable[str]) -> None:
    """Remove the resources of a deleted tenant's domains (repeatable)."""
    marked = []
    for domain in domains:
        state = records.get(domain)
        if state is None or state.tenant_id != tenant_id:
            continue
        if state.status != DomainStatus.REMOVING:
            state = records.change(state, status=DomainStatus.REMOVING) or records.get(domain)
        if state is not None:
            marked.append(state)
    converge(marked)


def domain_states(tenant_id: UUID, domains: Iterable[str]) -> list[tuple[str, DomainState | None]]:
    """Each domain's state, pending ones advanced first (a describe each: an admin route)."""
    found = []
    for domain in domains:
        state = records.get(domain)
        if state is not None and state.tenant_id != tenant_id:
            state = None
        if state is not None and state.status == DomainStatus.PENDING_VALIDATION:
            state = _advance_logged(state)
        found.append((domain, state))
    return found


def advance_domains(tenant_id: UUID, domains: Iterable[str]) -> None:
    """After a tenant's domains changed: advance those records of the tenant."""
    converge(s for s in (records.get(d) for d in domains) if s is not None and s.tenant_id == tenant_id)


def converge(states: Iterable[DomainState]) -> None:
    """Advance each domain as far as it goes now; an AWS failure is logged and left to the schedule."""
    for state in states:
        _advance_logged(state)


def run_pending() -> int:
    """The schedule: advance the domains with work left, a bounded number of pages; how many."""
    done, cursor = 0, None
    for _ in range(MAX_PAGES):
        states, cursor = records.work_page(PAGE_SIZE, cursor)
        for state in states:
            if _advance_logged(state) == state:
                # Nothing moved (awaiting the tenant's DNS, a certificate still in use, AWS
                # failing): to the back of the index, so waiting domains cannot fill every
                # run's pages and starve the others.
                records.change(state, status=state.status)
        done += len(states)
        if cursor is None:
            break
    return done


def _advance_logged(state: DomainState) -> DomainState | None:
    try:
        return advance(state)
    except (ClientError, BotoCoreError, gateway.ApiNotFoundError) as exc:
        log.warning("custom domain step failed; the schedule retries it",
                    extra={"fields": {"domain": state.domain, "tenant_id": str(state.tenant_id),
                                      "status": state.status.value, "error": type(exc).__name__}})
        return records.get(state.domain)


def advance(state: DomainState) -> DomainState | None:
    """Take every step that can be taken now; the state reached (None: the record is gone)."""
    if state.status == DomainStatus.REMOVING:
        return _remove(state)
    if state.status != DomainStatus.PENDING_VALIDATION:
        return state
    arn = state.certificate_arn
    if arn is None:
        return _moved_on(state, _request_certificate(state))
    certificate = gateway.describe_certificate(arn)
    if state.validation_name is None and certificate.validation_name is not None:
        recorded = records.change(state, validation_name=certificate.validation_name,
                                  validation_value=certificate.validation_value)
        if recorded is None:
            return _moved_on(state, records.get(state.domain))
        state = recorded
    if certificate.status in gateway.FAILED_CERTIFICATE:
        failed = records.change(state, status=DomainStatus.FAILED, reason=f"certificate_{certificate.status.lower()}")
        return failed or _moved_on(state, records.get(state.domain))
    if certificate.status != "ISSUED":
        return state
    target = gateway.create_domain_name(state.domain, arn, state.tenant_id)
    gateway.map_to_api(state.domain)
    ready = records.change(state, status=DomainStatus.READY, target_domain_name=target.domain_name,
                           target_hosted_zone_id=target.hosted_zone_id, reason=None)
    if ready is None:
        # Unmapped meanwhile: its removal deletes what was just made.
        return _moved_on(state, records.get(state.domain))
    log.info("custom domain ready", extra={"fields": {"domain": state.domain, "tenant_id": str(state.tenant_id)}})
    return ready


def _moved_on(before: DomainState, now: DomainState | None) -> DomainState | None:
    """Continue from ``now`` (the record after a step, or as another writer left it)."""
    if now is None or now == before or now.tenant_id != before.tenant_id:
        return now
    return advance(now)


def _request_certificate(state: DomainState) -> DomainState | None:
    arn = gateway.request_certificate(state.domain, state.tenant_id, state.generation)
    recorded = records.change(state, require_missing="certificate_arn", certificate_arn=arn)
    if recorded is not None:
        return recorded
    current = records.get(state.domain)
    if current is None or current.tenant_id != state.tenant_id or current.certificate_arn != arn:
        # Removed meanwhile (or another request recorded another certificate): ours is
        # named by no record, so nothing would ever delete it.
        gateway.delete_certificate(arn)
    return current


def _remove(state: DomainState) -> DomainState | None:
    gateway.delete_domain_name(state.domain)
    if state.certificate_arn is not None and not gateway.delete_certificate(state.certificate_arn):
        log.info("certificate still in use; its removal is retried", extra={"fields": {"domain": state.domain}})
        return state
    if not records.delete(state):
        return _moved_on(state, records.get(state.domain))
    log.info("custom domain removed", extra={"fields": {"domain": state.domain, "tenant_id": str(state.tenant_id)}})
    return None
