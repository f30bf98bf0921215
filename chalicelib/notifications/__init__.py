"""Email and texts: per-tenant templates (safe substitution only), sent through the tenant's
effective provider with a retrying outbox."""
from chalicelib.notifications.sender import retry_outbox, send_email, send_sms
from chalicelib.notifications.templates import DEFAULT_TEMPLATES, install_default_templates, render

__all__ = ["DEFAULT_TEMPLATES", "install_default_templates", "render", "retry_outbox", "send_email", "send_sms"]
