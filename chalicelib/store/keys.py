"""Every DynamoDB key string is built here and nowhere else.

Registry (platform-owned) keys name platform things. Data keys always begin with the
tenant prefix ``T#<tenant uuid>#``: the guard and the IAM ``dynamodb:LeadingKeys``
condition both rely on that prefix, so no other module may spell a key.
"""
from __future__ import annotations

import hashlib
from uuid import UUID

TENANT_SK = "TENANT"
RESERVATION_SK = "RESERVATION"
TENANTS_INDEX_PK = "TENANTS"


def tenant_pk(tenant_id: UUID) -> str:
    return f"TENANT#{tenant_id}"


def slug_reservation_pk(slug: str) -> str:
    return f"SLUG#{slug}"


def domain_reservation_pk(domain: str) -> str:
    return f"DOMAIN#{domain}"


def tenants_index_sk(created_at_iso: str, tenant_id: UUID) -> str:
    return f"{created_at_iso}#{tenant_id}"


# Plans (limits of each tier): one registry partition, sort key the plan's name, so the
# list is one Query.
PLANS_PK = "PLANS"
# Beside each tenant item (pk tenant_pk): the tenant's limit overrides.
LIMITS_SK = "LIMITS"


def plan_sk(name: str) -> str:
    return name


# API Gateway keys the app made (chalicelib/ratelimit/keys.py): one registry item per key
# name, holding its id, value and usage plan, so the authorizer never asks API Gateway.
API_KEY_SK = "APIKEY"


def api_key_pk(key_name: str) -> str:
    return f"APIKEY#{key_name}"


# The distributed rate limiter's state of one bucket (a tenant's, its anonymous callers',
# the platform's): one registry item each, written on every limited request.
RATE_SK = "RATE"


def rate_pk(bucket: UUID) -> str:
    return f"RATE#{bucket}"


# The platform audit trail (tenant lifecycle, plans): registry items, sort key the event id.
PLATFORM_AUDIT_PK = "PLATFORM#AUDIT"
# Beside each tenant item (pk tenant_pk): the anchor of its audit trail (end of its chain,
# retention watermark), kept where tenant-scoped access cannot reach.
AUDIT_ANCHOR_SK = "AUDIT"


def tenant_prefix(tenant_id: UUID) -> str:
    """The prefix every data-table partition key of this tenant starts with."""
    return f"T#{tenant_id}#"


def data_partition(tenant_id: UUID, kind: str, *qualifiers: str) -> str:
    """``T#<tenant>#<KIND>[#<qualifier>...]``: the only way a data-table partition key is made."""
    if not kind.isalnum() or not kind.isupper():
        raise ValueError("entity kinds are upper-case alphanumeric")
    for qualifier in qualifiers:
        if not qualifier or "#" in qualifier:
            raise ValueError("key qualifiers must be non-empty and free of '#'")
    return tenant_prefix(tenant_id) + "#".join((kind, *qualifiers))


def time_ordered(created_at_iso: str, entity_id: UUID | str) -> str:
    """Sort key for index entries listed newest-last: creation time, then id for ties."""
    return f"{created_at_iso}#{entity_id}"


# Entity kinds of the data table (the second segment of every partition key).
CATEGORY = "CAT"
PROFESSIONAL = "PRO"
PROFESSIONAL_EMAIL = "PROEMAIL"  # uniqueness of a professional's email: sk = HMAC of it
PROFESSIONAL_CATEGORY = "PROCAT"  # professionals by category: qualifier = category slug
PROFESSIONAL_USER = "PROUSER"  # professional linked to a login: sk = token sub
CUSTOMER = "CUS"
CUSTOMER_USER = "CUSUSER"  # customer linked to a login: sk = token sub
REFERRAL = "REF"
REFERRAL_STATUS = "REFSTATUS"  # gsi1: referrals by status
REFERRAL_FROM = "REFFROM"  # gsi2: referrals sent by a professional
REFERRAL_TO = "REFTO"  # gsi3: referrals received by a professional
TENANT_SECRET = "SECRET"
AUDIT = "AUDIT"  # the tenant's audit events (shard 0, and every event from before sharding): sk = event id
# The trail's shards: every write appended to one partition per tenant, which caps a busy
# tenant at one partition's write rate (1,000 WCU/s). An event goes to the shard its id
# names (``audit_shard``); readers merge all of them by id. Shard 0 is the original
# partition, so a trail from before sharding needs no migration. Kinds, not qualifiers,
# so the platform role's leading-keys patterns (``T#*#<kind>``) name each one exactly.
AUDIT_SHARD_KINDS = (AUDIT, "AUDIT1", "AUDIT2", "AUDIT3")
AUDIT_DIGEST = "AUDITDIGEST"  # chained digests of the events: sk = first event key covered
KEY_ROTATION = "KEYROT"  # the tenant's key rotation record: sk = ROTATION
PROVISIONING = "PROV"  # the tenant's provisioning request (admin email sealed): sk = REQUEST
ROLE = "ROLE"  # the tenant's roles and their permissions: sk = role name
MEMBER = "MEMBER"  # the tenant's members (email sealed): sk = member id
MEMBER_EMAIL = "MEMBEREMAIL"  # uniqueness of a member's email: sk = HMAC of it
MEMBER_SUBJECT = "MEMBERSUB"  # the member an identity (issuer + subject) is: sk = member_subject_sk()
EMAIL_TEMPLATE = "TPL"  # the tenant's email templates: sk = template name
CONFIG = "CONFIG"  # the tenant's configuration overrides: sk = CURRENT_SK (the current-version pointer)
CONFIG_VERSION = "CONFIGVER"  # immutable configuration versions: sk = version_sk(n)
BRANDING = "BRAND"  # the tenant's branding: sk = CURRENT_SK
BRANDING_VERSION = "BRANDVER"  # immutable branding versions: sk = version_sk(n)
INTEGRATION = "INTEG"  # the tenant's integrations (secrets sealed): sk = kind (email, sms, ...)
JOB_RUN = "JOBRUN"  # a fanned-out scheduled job's run for the tenant (store/job_runs.py): sk = <job>#<run id>
OUTBOX = "OUTBOX"  # notifications waiting for a retry (message sealed): sk = time-ordered id
EXPORT = "EXPORT"  # the tenant's data exports: sk = export id
EXPORT_BY_TIME = "EXPORTS"  # gsi1: the tenant's exports by creation (gsi1sk = time_ordered)
EXPORT_ACTIVE = "EXPORTACTIVE"  # gsi2, sparse: the tenant's queued and running exports
EXPORT_QUOTA = "EXPORTQUOTA"  # export counters (``used``): sk = DAY#<date> (requested that day), ACTIVE (running)
USAGE = "USAGE"  # the tenant's usage counters: sk = the meter (professionals, customers, ...)
STORED_OBJECT = "OBJ"  # a ledger of the tenant's stored files (S3 events): sk = object key
CURRENT_SK = "CURRENT"
# Data-table partitions a platform (registry + data) transaction may add new items to:
# store/connection.py enforces it, infra's functions role is limited to the same.
PLATFORM_WRITABLE_KINDS = (*AUDIT_SHARD_KINDS, AUDIT_DIGEST, PROVISIONING, BRANDING_VERSION, USAGE)


def audit_shard(event_id: str) -> str:
    """The kind of the trail shard that holds ``event_id`` (a hash of the id: even spread,
    and the same answer for every reader)."""
    return AUDIT_SHARD_KINDS[hashlib.sha256(event_id.encode()).digest()[0] % len(AUDIT_SHARD_KINDS)]


def member_subject_sk(issuer: str, subject: str) -> str:
    """Sort key of an identity's member pointer: a digest, so no issuer URL or subject
    (with its ``#`` or ``|``) is in a key, and every length fits."""
    return hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()


def version_sk(number: int) -> str:
    """Sort key of version ``number``: zero-padded so versions sort numerically."""
    if number < 1:
        raise ValueError("versions start at 1")
    return f"{number:010d}"


def tenant_object_key(tenant_id: UUID, *parts: str) -> str:
    """An S3 object key under the tenant's own prefix: ``tenants/<uuid>/<part>/...``."""
    for part in parts:
        if not part or "/" in part or part in (".", ".."):
            raise ValueError("object key parts must be non-empty names")
    return "/".join(("tenants", str(tenant_id), *parts))


# Beside each custom domain's reservation (pk domain_reservation_pk): the state of its AWS
# resources (certificate, API Gateway domain name), chalicelib/domains. While a domain has
# work left (a certificate to request or await, resources to remove) its item is in gsi1
# under CUSTOM_DOMAINS_WORK_PK, so the schedule reads only those, in pages.
CUSTOM_DOMAIN_SK = "CUSTOM_DOMAIN"
CUSTOM_DOMAINS_WORK_PK = "CUSTOM_DOMAINS#WORK"


def custom_domain_work_sk(updated_at_iso: str, domain: str) -> str:
    return f"{updated_at_iso}#{domain}"
