"""The Chalice application: creates the app and registers blueprints. No logic here."""
from chalice import Chalice

from chalicelib import http
from chalicelib.meta.routes import bp as meta_routes
from chalicelib.network.category_routes import bp as category_routes
from chalicelib.network.customer_routes import bp as customer_routes
from chalicelib.network.professional_routes import bp as professional_routes
from chalicelib.network.referral_routes import bp as referral_routes
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
