"""GET /api/admin/metrics: the metrics this process recorded, for super-admins.

In AWS the metrics are CloudWatch's (EMF, ``chalicelib/metrics.py``) and this is one
warm container's share; locally, where there is no CloudWatch, it is the whole run.
Per-tenant rows are tenant ids and counts only (no tenant data), and only super-admins
(``@platform_route``) see them.
"""
from chalice import Blueprint
from pydantic import ConfigDict

from chalicelib import metrics
from chalicelib.entry import platform_route
from chalicelib.fields import Model

bp = Blueprint(__name__)


class MetricRow(Model):
    model_config = ConfigDict(extra="forbid")

    name: str
    dimensions: dict[str, str]
    unit: str
    count: int
    sum: float
    min: float
    max: float


class MetricsSummary(Model):
    model_config = ConfigDict(extra="forbid")

    namespace: str
    since: float
    metrics: list[MetricRow]


@bp.route("/api/admin/metrics", methods=["GET"])
@platform_route(operation_id="getPlatformMetrics", tag="Admin", response=MetricsSummary,
                summary="Metrics this process recorded since it started (EMF locally)")
def metrics_summary() -> MetricsSummary:
    return MetricsSummary(namespace=metrics.NAMESPACE, **metrics.summary())
