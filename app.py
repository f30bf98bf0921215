"""The Chalice application: creates the app and registers blueprints. No logic here."""
from chalice import Chalice

from chalicelib import http
from chalicelib.meta.routes import bp as meta_routes
from chalicelib.network.category_routes import bp as category_routes
from chalicelib.tenants.routes import bp as tenant_routes

app = Chalice(app_name="tenant-platform")
app.debug = False
http.bind_app(app)

app.register_blueprint(meta_routes)
app.register_blueprint(tenant_routes)
app.register_blueprint(category_routes)
