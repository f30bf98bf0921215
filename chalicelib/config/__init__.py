"""Tenant configuration and branding: versioned documents in the tenant's partition.

Modules: ``schema`` (sections, platform defaults, merge, diff), ``current`` (the stored
current-version pointer), ``effective`` (the configuration in force, also read by the
audit retention policy), ``versions`` (immutable versions written atomically with the
pointer and the audit event), ``service`` (configuration), ``branding`` (branding and
asset uploads), ``routes`` and ``admin_routes``.

This package's ``__init__`` imports nothing: ``audit.policy`` imports ``effective``,
and the audit package is imported by ``versions``.
"""
