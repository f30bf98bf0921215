"""Manual key rotation: a tenant moved to a new KMS key and its data re-encrypted under it.

A feature beside the ``crypto`` adapter (which it uses): ``admin_routes`` (the super-admin
routes), ``service`` (the steps), ``record`` (the checkpoint item), ``inventory`` (where a
tenant's sealed documents live).
"""
