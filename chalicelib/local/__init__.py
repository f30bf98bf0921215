"""The local runner: moto's server, bootstrap, seed, the SQS and schedule pump, the API."""
