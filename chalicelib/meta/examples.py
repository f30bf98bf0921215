"""Request and response examples for the OpenAPI document, drawn from the demo tenant.

The values are the ones ``make run`` seeds (``chalicelib/local/seed.py`` and
``chalicelib/tenants/demo_data.py``), so an example pasted against a local run names
things that exist there. Ids and times are fixed illustrations. Every example is
validated against its operation's pydantic model in tests/api/test_openapi_document.py.
"""
from __future__ import annotations

from typing import Any

from chalicelib.tenants.demo_data import CUSTOMERS, PROFESSIONALS

TENANT_ID = "6f1c2a4e-8b0d-4d5e-9a37-2b1f0c9e7d11"
PROFESSIONAL_IDS = ("0b7e5f2a-1c3d-4e6f-8a9b-0c1d2e3f4a5b", "1c8f6a3b-2d4e-4f70-9b0c-1d2e3f4a5b6c")
CUSTOMER_ID = "2d9a7b4c-3e5f-4a81-8c1d-2e3f4a5b6c7d"
REFERRAL_ID = "3e0b8c5d-4f6a-4b92-9d2e-3f4a5b6c7d8e"
EXPORT_ID = "4f1c9d6e-5a7b-4ca3-8e3f-4a5b6c7d8e9f"
MEMBER_ID = "5a2d0e7f-6b8c-4db4-9f4a-5b6c7d8e9f0a"
NOW = "2026-12-01T09:30:00Z"
# As chalicelib/local/seed.py seeds them (the local runner sits above this module).
DEMO_SLUG = "demo"
DEMO_ADMIN_EMAIL = "admin@demo-network.example"
_STAMPS = {"version": 1, "created_at": NOW, "updated_at": NOW}

_PRO_NAME, _PRO_CONTACT, _PRO_EMAIL, _PRO_CATEGORIES = PROFESSIONALS[0]
_CUS_NAME, _CUS_EMAIL, _CUS_VEHICLE = CUSTOMERS[0]

_professional = {
    "id": PROFESSIONAL_IDS[0], "business_name": _PRO_NAME, "contact_name": _PRO_CONTACT, "email": _PRO_EMAIL,
    "phone": "+1 555 0100", "license_number": None, "address": None, "service_categories": list(_PRO_CATEGORIES),
    "status": "active", "user_sub": None, **_STAMPS,
}
_customer = {"id": CUSTOMER_ID, "name": _CUS_NAME, "email": _CUS_EMAIL, "phone": None,
             "vehicles": [dict(_CUS_VEHICLE)], "notes": None, "user_sub": None, **_STAMPS}
_referral = {
    "id": REFERRAL_ID, "from_professional_id": PROFESSIONAL_IDS[0], "to_professional_id": PROFESSIONAL_IDS[1],
    "customer_id": CUSTOMER_ID, "service_category": "body-and-paint", "status": "pending",
    "notes": "Rear bumper after a parking knock", **_STAMPS,
}
_category = {"slug": "brakes-and-suspension", "name": "Brakes and suspension",
             "description": "Pads, discs, shocks and alignment", "active": True, **_STAMPS}
_member = {"id": MEMBER_ID, "email": "manager@demo-network.example", "role": "manager", "status": "invited",
           "subject": None, "version": 1, "created_at": NOW, "updated_at": NOW}
_export = {"id": EXPORT_ID, "status": "queued", "format": "csv",
           "include": ["professionals", "customers", "referrals", "service_categories"],
           "requested_by": "demo-admin", "created_at": NOW, "updated_at": NOW}
_completed_export = {**_export, "status": "completed", "started_at": NOW, "completed_at": NOW,
                     "expires_at": "2026-12-08T09:31:00Z", "size_bytes": 2048,
                     "counts": {"professionals": 4, "customers": 2, "referrals": 2, "service_categories": 11},
                     "sha256": "9b" * 32}

# operationId -> {"request": body, "response": body}; either may be absent.
EXAMPLES: dict[str, dict[str, Any]] = {
    "createTenant": {"request": {
        "slug": DEMO_SLUG, "name": "Demo Automotive Network", "display_name": "Demo Auto Network",
        "primary_color": "#1E6FD9", "plan": "standard", "admin_email": DEMO_ADMIN_EMAIL, "seed_demo_data": True,
    }},
    "updateTenant": {"request": {"status": "suspended"}},
    "createServiceCategory": {
        "request": {k: _category[k] for k in ("slug", "name", "description")}, "response": _category},
    "getServiceCategory": {"response": _category},
    "updateServiceCategory": {"request": {"name": "Brakes, steering and suspension"}},
    "createProfessional": {"request": {
        "business_name": _PRO_NAME, "contact_name": _PRO_CONTACT, "email": _PRO_EMAIL, "phone": "+1 555 0100",
        "service_categories": list(_PRO_CATEGORIES),
    }, "response": _professional},
    "getProfessional": {"response": _professional},
    "updateProfessional": {"request": {"phone": "+1 555 0199"}},
    "createCustomer": {"request": {"name": _CUS_NAME, "email": _CUS_EMAIL, "vehicles": [dict(_CUS_VEHICLE)]},
                       "response": _customer},
    "getCustomer": {"response": _customer},
    "updateCustomer": {"request": {"phone": "+1 555 0142"}},
    "createReferral": {"request": {k: _referral[k] for k in (
        "from_professional_id", "to_professional_id", "customer_id", "service_category", "notes")},
        "response": _referral},
    "getReferral": {"response": _referral},
    "updateReferral": {"request": {"status": "accepted"}, "response": {**_referral, "status": "accepted",
                                                                        "version": 2}},
    "inviteMember": {"request": {"email": _member["email"], "role": "manager"}, "response": _member},
    "updateMember": {"request": {"role": "tenant_admin"}},
    "acceptInvitation": {"request": {"token": "9f" * 32},
                         "response": {**_member, "status": "active", "subject": "demo-manager", "version": 2}},
    "putRole": {"request": {"permissions": ["tenant:read", "professionals:read", "referrals:write"]}},
    "updateConfig": {"request": {"overrides": {"general": {"timezone": "Europe/Paris", "date_format": "DD/MM/YYYY"}},
                                 "comment": "Paris office"}},
    "updateBranding": {"request": {"display_name": "Demo Auto Network", "primary_color": "#1E6FD9",
                                   "support_email": "help@demo-network.example"}},
    "createBrandingAssetUpload": {"request": {"purpose": "logo", "content_type": "image/png"}},
    "putIntegration": {"request": {"provider": "plausible", "enabled": True,
                                   "config": {"domain": "demo-network.example"}}},
    "testIntegration": {"request": {"to": "+15550100"}},
    "requestExport": {"request": {"format": "csv", "notify_email": DEMO_ADMIN_EMAIL}, "response": _export},
    "getExport": {"response": _completed_export},
    "updatePlan": {"request": {
        "max_professionals": 500, "max_customers": 5000, "max_storage_bytes": 5368709120, "rate_per_second": 25,
        "burst": 50, "requests_per_day": 100000, "exports_per_day": 10, "max_concurrent_exports": 2}},
    "updateTenantLimits": {"request": {"rate_per_second": 1, "burst": 5}},
}
