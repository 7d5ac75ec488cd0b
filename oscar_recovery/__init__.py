"""Abandoned-basket recovery for django-oscar shops.

The map, in the order data flows (each package connects its own receivers from
:meth:`oscar_recovery.apps.RecoveryConfig.ready`):

- Oscar's and Django's signals (basket, checkout, order, request) feed
- ``capture/``          1. shop signals -> journey: receivers, request scope, snapshot, visitor
- ``contacts/``            who a shopper is: contacts linked across visits, merges, facts,
  canonical addresses, whether an address is verified
- ``segments/``            segments of contacts: definitions, built-ins, set-based refresh,
  the audience definitions shared with campaigns and prompts, admin
- ``audiences/``           retargeting audiences: ads consent, the daily hashed diff sync,
  platforms (the seam, fake, Meta, Google), CSV downloads, admin
- ``journeys/``            every write to a cart journey: status changes, writes (one upsert),
  what a write leaves for after the request (follow-ups)
- ``sweep/``            2. quiet journeys move on: abandon/expire, browse abandonment
- ``handoff/``             how work leaves a request or the sweep: task mode, publish, outbox
- ``campaigns/``        3. who gets what: audience, enrolment, dispatch, variants, installers
- ``sending/``          4. one message out: checks, content, templating, vouchers, tokens
- ``outcomes/``         5. what came back: ESP tracking, restore links, unsubscribe, attribution
- ``reporting/``        6. figures: aggregation, reports, statistics, alerts, weekly summary

Beside them:

- ``privacy/``             consent and its ledger, double opt-in, suppression, export/erase,
  retention
- ``recommendations/``     the recommender and its bought-together tables
- ``audiences/``           retargeting audiences synced hashed to ads platforms: the
  platform seam, a fake, Meta and Google (``audiences.platforms``)
- ``prompts/``             on-site prompts, all of them (their settings in ``prompts.app_settings``)
- ``outgoing_webhooks/``   signed events: events, signing, delivery, housekeeping, admin
- ``operations/``          health figures and endpoint, worker heartbeats, the doctor
- ``admin/``               journeys and campaigns admin, campaign step forms
- ``dashboard/``           the Oscar dashboard app
- ``models/``              every model, one module per concern; ``__init__`` re-exports them
- ``templatetags/`` ``management/`` (the ``recovery_*`` commands) ``migrations/``
  ``templates/`` ``static/`` ``locale/``

At the root: ``apps`` ``app_settings`` (every setting but the prompts') ``adapter`` (the
customisation seam) ``signals`` ``constants`` ``checks`` ``urls`` ``schedules`` ``tasks``
(Celery entry points) ``utils`` (``get_logger``, ``never_raises``) ``ratelimit``, and the
documented re-exports ``consent`` ``reports`` ``stats`` ``webhooks``.
"""

__version__ = "0.1.0"
