"""The VM inventory domain: schemas, rules, errors, use cases, listing (no HTTP, no MongoDB)."""
