"""The network's categories: routes (the Blueprint) and service (the logic)."""
