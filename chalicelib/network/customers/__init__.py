"""The network's customers: routes (the Blueprint) and service (the logic)."""
