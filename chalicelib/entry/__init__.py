"""The pipelines every entry point goes through: routes, SQS messages and schedules."""
from chalicelib.entry.fanout import tenant_schedule
from chalicelib.entry.handlers import tenant_handler
from chalicelib.entry.routes import RouteSpec, platform_route, public_route, public_tenant_route, tenant_route

__all__ = ["RouteSpec", "platform_route", "public_route", "public_tenant_route", "tenant_handler", "tenant_route",
           "tenant_schedule"]
