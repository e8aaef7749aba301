"""The test suites: unit, integration, api, e2e and faults."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout, for tests that read or run its files
