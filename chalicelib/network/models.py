"""What the network's entities share: the service-category slug they all name.

Each entity's own schemas are in its package (``categories/models.py``, ...); field
types and base models used beyond the network are in ``chalicelib.fields``.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

CATEGORY_SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
Slug = Annotated[str, Field(min_length=1, max_length=63, pattern=CATEGORY_SLUG)]
