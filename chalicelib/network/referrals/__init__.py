"""The network's referrals: routes (the Blueprint) and service (the logic)."""
