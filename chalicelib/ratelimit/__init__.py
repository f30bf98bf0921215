"""Per-tenant API rate limiting: in-process token buckets, or API Gateway usage plans in AWS.

``service`` is what the request path calls; ``usage_plans`` wires plans and tenant API
keys in API Gateway; ``authorizer`` selects a request's key in AWS.
"""
from chalicelib.ratelimit.bucket import Decision, RateLimits
from chalicelib.ratelimit.limiter import InProcessLimiter

__all__ = ["Decision", "InProcessLimiter", "RateLimits"]
