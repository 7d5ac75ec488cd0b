"""Abandoned-basket recovery for django-oscar shops.

The map, in the order data flows (each package connects its own receivers from
:meth:`oscar_recovery.apps.RecoveryConfig.ready`):

- Oscar's and Django's signals (basket, checkout, order, request) feed
- ``capture/``          1. shop signals -> journey: receivers, request scope, snapshot, visitor
- ``journeys/``            every write to a cart journey
- ``sweep/``            2. quiet journeys move on: abandon/expire, browse abandonment
- ``campaigns/``        3. who gets what: audience, enrolment, dispatch, variants, installers
- ``sending/``          4. one message out: checks, content, templating, vouchers, tokens
- ``outcomes/``         5. what came back: ESP tracking, restore links, unsubscribe, attribution
- ``reporting/``        6. figures: aggregation, reports, statistics, alerts, weekly summary

Beside them: ``privacy/`` (consent, suppression, export/erase, retention),
``recommendations/`` (the recommender and its tables), ``prompts/`` (on-site prompts, all of
them), ``outgoing_webhooks/`` (signed events: events, signing, delivery), ``admin/`` (journeys,
campaigns) and ``dashboard/`` (Oscar dashboard app).

At the root: ``apps`` ``app_settings`` (every setting) ``adapter`` (the customisation seam)
``signals`` ``constants`` ``checks`` ``urls`` ``schedules`` ``tasks`` (Celery entry points)
``utils`` (``get_logger``, ``never_raises``) ``ratelimit``, and the documented re-exports
``consent`` ``reports`` ``stats`` ``webhooks``; ``models`` holds every model.
"""

__version__ = "0.1.0"
