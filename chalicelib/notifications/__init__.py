"""Email and texts: per-tenant templates (safe substitution only), sent through the tenant's
effective provider with a retrying outbox."""
from chalicelib.notifications.dispatch import NOTIFICATIONS_QUEUE
from chalicelib.notifications.messages import after_commit, app_url, email_template
from chalicelib.notifications.sender import post_email, post_sms, retry_outbox, send_email, send_queued, send_sms
from chalicelib.notifications.templates import DEFAULT_TEMPLATES, install_default_templates, render

__all__ = ["DEFAULT_TEMPLATES", "NOTIFICATIONS_QUEUE", "after_commit", "app_url", "email_template",
           "install_default_templates", "post_email", "post_sms", "render", "retry_outbox", "send_email", "send_queued",
           "send_sms"]
