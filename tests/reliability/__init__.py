"""Reliability helpers: warehouse content hashes and a killable extraction driver (used by tests/integration)."""
