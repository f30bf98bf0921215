"""The Chalice application: creates the app and registers blueprints. No logic here."""
import gc

# Cold start (docs/cold-start.md): every function imports this module first. Loading it
# allocates a great deal and frees almost nothing, so the cyclic collector's passes over
# everything loaded so far are wasted: it is off while the app loads and back on at the
# end, with what was loaded frozen (warm invocations' collections skip it).
gc.disable()

from chalice import Chalice

from chalicelib import http
from chalicelib.audit.routes import bp as audit_routes
from chalicelib.config.admin_routes import bp as config_admin_routes
from chalicelib.config.routes import bp as config_routes
from chalicelib.domains.admin_routes import bp as domain_admin_routes
from chalicelib.exports.routes import bp as export_routes
from chalicelib.integrations.routes import bp as integration_routes
from chalicelib.jobs import audit as audit_jobs
from chalicelib.jobs import domains as domain_jobs
from chalicelib.jobs import exports as export_jobs
from chalicelib.jobs import key_rotation, tenant_jobs
from chalicelib.jobs import notifications as notification_jobs
from chalicelib.jobs import provisioning as provisioning_jobs
from chalicelib.jobs import referrals as referral_jobs
from chalicelib.jobs import usage as usage_jobs
from chalicelib.key_rotation.admin_routes import bp as key_routes
from chalicelib.limits.admin_routes import bp as limits_admin_routes
from chalicelib.limits.routes import bp as limits_routes
from chalicelib.members.routes import bp as member_routes
from chalicelib.meta.routes import bp as meta_routes
from chalicelib.network.categories.routes import bp as category_routes
from chalicelib.network.customers.routes import bp as customer_routes
from chalicelib.network.professionals.routes import bp as professional_routes
from chalicelib.network.referrals.routes import bp as referral_routes
from chalicelib.operations.routes import bp as operations_routes
from chalicelib.ratelimit import authorizer as usage_key_authorizer
from chalicelib.settings import rate_limit_mode_at_import
from chalicelib.tenants.admin_routes import bp as tenant_admin_routes
from chalicelib.tenants.routes import bp as tenant_routes

app = Chalice(app_name="tenant-platform")
app.debug = False
http.bind_app(app)

app.register_blueprint(meta_routes)
app.register_blueprint(tenant_routes)
app.register_blueprint(category_routes)
app.register_blueprint(professional_routes)
app.register_blueprint(customer_routes)
app.register_blueprint(referral_routes)
app.register_blueprint(audit_routes)
app.register_blueprint(key_routes)
app.register_blueprint(config_routes)
app.register_blueprint(config_admin_routes)
app.register_blueprint(tenant_admin_routes)
app.register_blueprint(domain_admin_routes)
app.register_blueprint(member_routes)
app.register_blueprint(integration_routes)
app.register_blueprint(export_routes)
app.register_blueprint(limits_routes)
app.register_blueprint(limits_admin_routes)
app.register_blueprint(operations_routes)
app.register_blueprint(usage_key_authorizer.bp)
# In AWS the tenant routes sit behind the authorizer that picks the tenant's API key
# (after every route blueprint is registered).
usage_key_authorizer.require_usage_key(app, rate_limit_mode_at_import())

# Lambda loads each event handler as "app.<the handler function's name>" (chalice writes
# that into the template): every registration is bound to that name here, and no two
# handlers share one (tests/infra/test_handlers.py).
chain_audit_trail = app.schedule(audit_jobs.CHAIN_SCHEDULE, name="audit_chain")(audit_jobs.chain_audit_trail)
apply_audit_retention = app.schedule(audit_jobs.RETENTION_SCHEDULE, name="audit_retention")(
    audit_jobs.apply_audit_retention)
advance_custom_domains = app.schedule(domain_jobs.DOMAINS_SCHEDULE, name="custom_domains")(
    domain_jobs.advance_custom_domains)
resume_stuck_provisioning = app.schedule(provisioning_jobs.RESUME_SCHEDULE, name="provisioning_resume")(
    provisioning_jobs.resume_stuck_provisioning)
retry_notifications = app.schedule(notification_jobs.RETRY_SCHEDULE, name="notifications_retry")(
    notification_jobs.retry_notifications)
send_notification = app.on_sqs_message(queue=notification_jobs.QUEUE, batch_size=notification_jobs.BATCH_SIZE,
                                       name="notifications_sender")(notification_jobs.send_notification)
reconcile_usage = app.schedule(usage_jobs.RECONCILE_SCHEDULE, name="usage_reconciliation")(usage_jobs.reconcile_usage)
expire_referrals = app.schedule(referral_jobs.EXPIRY_SCHEDULE, name="referrals_expiry")(referral_jobs.expire_referrals)
handle_storage_event = app.on_sqs_message(queue=usage_jobs.QUEUE, batch_size=usage_jobs.BATCH_SIZE,
                                          name="storage_events")(usage_jobs.handle_storage_event)
handle_key_rotation = app.on_sqs_message(queue=key_rotation.QUEUE, batch_size=key_rotation.BATCH_SIZE,
                                         name="key_rotation")(key_rotation.handle_key_rotation)
cleanup_exports = app.schedule(export_jobs.CLEANUP_SCHEDULE, name="exports_cleanup")(export_jobs.cleanup_exports)
handle_export = app.on_sqs_message(queue=export_jobs.QUEUE, batch_size=export_jobs.BATCH_SIZE,
                                   name="exports_worker")(export_jobs.handle_export)
# The per-tenant work of every @tenant_schedule above: one message per tenant (entry/fanout.py).
run_tenant_jobs = app.on_sqs_message(queue=tenant_jobs.QUEUE, batch_size=tenant_jobs.BATCH_SIZE,
                                     name="tenant_jobs")(tenant_jobs.run_tenant_jobs)

gc.enable()
gc.freeze()
