"""Per-tenant API rate limiting: token buckets in the process or, fleet-wide, in DynamoDB,
behind API Gateway usage plans in AWS.

``service`` is what the request path calls; ``distributed`` is the DynamoDB limiter;
``usage_plans`` makes tenant API keys and attaches them to the stack's usage plans;
``key_records`` keeps the keys in the registry; ``authorizer`` selects a request's key.
"""
from chalicelib.ratelimit.bucket import Decision, RateLimits
from chalicelib.ratelimit.limiter import InProcessLimiter

__all__ = ["Decision", "InProcessLimiter", "RateLimits"]
