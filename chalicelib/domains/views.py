"""A tenant's custom domains as super-admins see them (pending ones checked with ACM first)."""
from __future__ import annotations

from chalicelib.domains import service
from chalicelib.domains.models import CustomDomainList, CustomDomainView, DnsRecord, DomainTarget
from chalicelib.domains.records import DomainState
from chalicelib.tenants import lookup


def tenant_domains(reference: str) -> CustomDomainList:
    tenant = lookup.tenant_by_reference(reference)
    return CustomDomainList(items=[_view(d, s) for d, s in service.domain_states(tenant.id, tenant.domains)])


def _view(domain: str, state: DomainState | None) -> CustomDomainView:
    if state is None:
        return CustomDomainView(domain=domain, status="unmanaged", validation_record=None, target=None, reason=None)
    record = (DnsRecord(name=state.validation_name, type="CNAME", value=state.validation_value)
              if state.validation_name and state.validation_value else None)
    target = (DomainTarget(domain_name=state.target_domain_name, hosted_zone_id=state.target_hosted_zone_id)
              if state.target_domain_name and state.target_hosted_zone_id else None)
    return CustomDomainView(domain=domain, status=state.status.value, validation_record=record,  # type: ignore[arg-type]
                            target=target, reason=state.reason)
