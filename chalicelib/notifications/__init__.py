"""Email: per-tenant templates (safe substitution only) and the SES sender."""
from chalicelib.notifications.sender import send_email
from chalicelib.notifications.templates import DEFAULT_TEMPLATES, install_default_templates, render

__all__ = ["DEFAULT_TEMPLATES", "install_default_templates", "render", "send_email"]
