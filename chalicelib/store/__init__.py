"""Storage: table schemas, key builders, the registry, and (per tenant) the data layer."""
