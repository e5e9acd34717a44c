"""Shared test helpers (a fault-injecting HTTP server, …); import fixtures from here."""
