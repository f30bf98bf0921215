"""Tenants' custom domains: ACM certificates and API Gateway domain names, kept in step
with the domains on the tenant record (``service``), their state in the registry
(``records``), the AWS calls (``gateway``), the super-admin's route (``admin_routes``)."""
