"""What operators read about the running platform (``GET /api/admin/metrics``)."""
