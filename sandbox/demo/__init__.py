"""Sandbox-only conveniences: the email outbox, the in-process sweep and the demo data."""
