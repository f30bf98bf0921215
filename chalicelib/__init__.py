"""Multi-tenant platform backend: everything but the Chalice app object lives here."""
