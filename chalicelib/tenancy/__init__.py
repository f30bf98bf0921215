"""Tenant context and resolution: who the bound tenant is, and which tenant a request names.

This package's ``__init__`` imports nothing: the store's guard imports ``context``, and
the request pipeline that uses both lives in ``chalicelib.entry``.
"""
