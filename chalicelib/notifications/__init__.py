"""Email and texts: per-tenant templates (safe substitution only), sent through the tenant's
effective provider with a retrying outbox."""
from typing import TYPE_CHECKING

from chalicelib import lazy

if TYPE_CHECKING:
    from chalicelib.notifications.dispatch import NOTIFICATIONS_QUEUE
    from chalicelib.notifications.messages import after_commit, app_url, email_template
    from chalicelib.notifications.sender import post_email, post_sms, retry_outbox, send_email, send_queued, send_sms
    from chalicelib.notifications.templates import DEFAULT_TEMPLATES, install_default_templates, render
else:
    # Re-exported on first use (cold start: importing one of this package's modules
    # must not import them all; docs/cold-start.md).
    __getattr__ = lazy.exports(__name__, {
        "chalicelib.notifications.dispatch": ("NOTIFICATIONS_QUEUE",),
        "chalicelib.notifications.messages": ("after_commit", "app_url", "email_template"),
        "chalicelib.notifications.sender": ("post_email", "post_sms", "retry_outbox", "send_email", "send_queued",
                                            "send_sms"),
        "chalicelib.notifications.templates": ("DEFAULT_TEMPLATES", "install_default_templates", "render"),
    })

__all__ = ["DEFAULT_TEMPLATES", "NOTIFICATIONS_QUEUE", "after_commit", "app_url", "email_template",
           "install_default_templates", "post_email", "post_sms", "render", "retry_outbox", "send_email", "send_queued",
           "send_sms"]
