"""The network's professionals: routes (the Blueprint) and service (the logic)."""
