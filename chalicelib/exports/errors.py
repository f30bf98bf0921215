"""The errors of the exports feature (here, not in ``service``, so routes declare them
without importing the service: docs/cold-start.md)."""
from __future__ import annotations

from chalicelib.errors import AppError, ConflictError


class ExportDailyLimitError(AppError):
    status, code, title = 429, "export_daily_limit", "The plan's exports per day are used up"


class ExportConcurrencyLimitError(ConflictError):
    code, title = "export_concurrency_limit", "The plan's concurrent exports are all running"


class ExportNotReadyError(ConflictError):
    code, title = "export_not_ready", "The export has not completed"


class ExportGoneError(AppError):
    status, code, title = 410, "export_expired", "The export has expired"
