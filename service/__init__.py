"""VM inventory service: an async REST API for virtual machines, backed by MongoDB."""
