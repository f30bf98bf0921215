"""Authentication (JWT), principals and the permission vocabulary."""
from chalicelib.auth.permissions import Permission, Role, permissions_for
from chalicelib.auth.principal import Principal

__all__ = ["Permission", "Principal", "Role", "permissions_for"]
