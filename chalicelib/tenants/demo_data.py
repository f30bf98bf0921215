"""Realistic demo data for a new tenant: professionals, customers and referrals.

Written through the network services (so every item is validated, encrypted and
audited like any other). Each function creates only what is missing, so a
provisioning retry after a crash half-way adds the rest and duplicates nothing.
"""
from __future__ import annotations

from uuid import UUID

from chalicelib.errors import ConflictError
from chalicelib.http import ListQuery
from chalicelib.network.customers import service as customers
from chalicelib.network.customers.models import CustomerCreate
from chalicelib.network.professionals import service as professionals
from chalicelib.network.professionals.models import ProfessionalCreate
from chalicelib.network.referrals import service as referrals
from chalicelib.network.referrals.models import ReferralCreate

PROFESSIONALS = (
    ("Northside Auto Repair", "Maria Lopez", "service@northside-auto.example",
     ["mechanical-repair", "brakes-and-suspension"]),
    ("Precision Collision Centre", "Tom Becker", "desk@precision-collision.example", ["body-and-paint", "glass"]),
    ("Volt EV Specialists", "Aiko Tanaka", "hello@volt-ev.example",
     ["electrical-and-ev", "diagnostics-and-inspection"]),
    ("Gleam Detailing Studio", "Sam Okafor", "book@gleam-detailing.example", ["detailing"]),
)
CUSTOMERS = (
    ("Jordan Miles", "jordan.miles@mail.example",
     {"vin": "1HGCM82633A004352", "make": "Honda", "model": "Accord", "year": 2019}),
    ("Priya Raman", "priya.raman@mail.example",
     {"vin": "5YJ3E1EA7KF317000", "make": "Tesla", "model": "Model 3", "year": 2021}),
)
# (from professional, to professional, customer, service category): indexes into the above.
REFERRALS = ((0, 1, 0, "body-and-paint"), (0, 2, 1, "electrical-and-ev"))
_ALL = 100
_STAFF = referrals.Caller(None)


def _professional_ids() -> dict[str, UUID]:
    found, _ = professionals.list_professionals(professionals.ProfessionalQuery(limit=_ALL))
    return {p.email: p.id for p in found}


def seed_professionals() -> None:
    existing = _professional_ids()
    for business, contact, email, categories in PROFESSIONALS:
        if email in existing:
            continue
        try:
            professionals.create_professional(ProfessionalCreate(
                business_name=business, contact_name=contact, email=email, service_categories=categories))
        except ConflictError:
            continue  # created by a concurrent retry


def seed_customers() -> None:
    existing = {c.email for c in customers.list_customers(customers.Reader(None), ListQuery(limit=_ALL))[0]}
    for name, email, vehicle in CUSTOMERS:
        if email not in existing:
            customers.create_customer(CustomerCreate(name=name, email=email, vehicles=[vehicle]))


def seed_referrals() -> None:
    pros = _professional_ids()
    pro_ids = [pros[email] for _, _, email, _ in PROFESSIONALS]
    listed = customers.list_customers(customers.Reader(None), ListQuery(limit=_ALL))[0]
    by_email = {c.email: c.id for c in listed}
    customer_ids = [by_email[email] for _, email, _ in CUSTOMERS]
    found, _ = referrals.list_referrals(_STAFF, referrals.ReferralQuery(limit=_ALL))
    existing = {(str(r.from_professional_id), str(r.to_professional_id), str(r.customer_id)) for r in found}
    for sender, receiver, customer, category in REFERRALS:
        key = (str(pro_ids[sender]), str(pro_ids[receiver]), str(customer_ids[customer]))
        if key not in existing:
            referrals.create_referral(_STAFF, ReferralCreate(
                from_professional_id=pro_ids[sender], to_professional_id=pro_ids[receiver],
                customer_id=customer_ids[customer], service_category=category,
                notes="Demo referral created at provisioning"), notify=False)  # made-up addresses


def seed_all() -> None:
    seed_professionals()
    seed_customers()
    seed_referrals()

