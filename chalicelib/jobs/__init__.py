"""SQS and schedule handlers: thin (parse the message, the tenant is bound, call a service)."""
