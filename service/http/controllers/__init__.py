"""Litestar controllers, one module per resource: vms, events, health."""
