"""scripts/bench: the service against a bare-ASGI floor on the same MongoDB, driven by wrk."""
