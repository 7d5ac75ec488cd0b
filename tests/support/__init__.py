"""Helpers the tests share: factories, scripted email backends, a local webhook server, the
Celery app of the integration tier, shopper journeys through the sandbox shop."""
