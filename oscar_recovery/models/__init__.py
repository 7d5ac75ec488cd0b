"""The app's models, one module per concern; every model is importable from here.

* :mod:`~oscar_recovery.models.base`: abstract field groups (``IncentiveFields`` of steps
  and prompts, ``VariantFields`` of their A/B variants, ``TranslatedFields`` of all four);
* :mod:`~oscar_recovery.models.journeys`: ``CartJourney`` (``JourneyQuerySet``),
  ``CartJourneyEvent``, ``CanonicalEmailField`` (addresses stored canonical), and
  ``email_matches``, the one address match (``email_matches_any`` for many addresses at
  once; ``raw_email_candidates`` and ``same_email`` for Oscar's fields, kept as typed);
* :mod:`~oscar_recovery.models.contacts`: ``Contact``, ``ContactIdentifier``, ``ContactMerge``,
  ``ContactFacts``;
* :mod:`~oscar_recovery.models.segments`: ``Segment``, ``SegmentMembership``;
* :mod:`~oscar_recovery.models.audiences`: ``Audience``, ``AudienceMember`` (retargeting
  lists, hashes only);
* :mod:`~oscar_recovery.models.campaigns`: ``Campaign``, ``CampaignStep``, ``StepVariant``,
  ``CampaignEnrolment``;
* :mod:`~oscar_recovery.models.messages`: ``RecoveryMessage`` (``MessageQuerySet``),
  ``TrackingEvent``, ``SendRateBucket``;
* :mod:`~oscar_recovery.models.privacy`: ``SuppressedAddress``, ``ConsentConfirmation``,
  ``ConsentEvent`` (the consent ledger);
* :mod:`~oscar_recovery.models.webhooks`: ``WebhookEndpoint``, ``WebhookDelivery``,
  ``WebhookAttempt`` (and ``new_webhook_secret``, which migration 0008 imports from here);
* :mod:`~oscar_recovery.models.recommendations`: ``BoughtTogether``, ``ProductSales``;
* :mod:`~oscar_recovery.models.stats`: ``DailyStat``, ``DailyProductStat``;
* :mod:`~oscar_recovery.models.prompts`: ``Prompt``, ``PromptVariant``, ``PromptEvent``;
* :mod:`~oscar_recovery.models.operations`: ``HandOff`` (the outbox of work for workers),
  ``SweepRun``, ``SweepCursor`` (how far an incremental stage has read), ``WorkerHeartbeat``.

Import models from ``oscar_recovery.models``: the modules behind it may move.
"""

from oscar_recovery.models.audiences import Audience, AudienceMember
from oscar_recovery.models.campaigns import Campaign, CampaignEnrolment, CampaignStep, StepVariant
from oscar_recovery.models.contacts import (
    Contact,
    ContactFacts,
    ContactIdentifier,
    ContactMerge,
)
from oscar_recovery.models.journeys import (
    CanonicalEmailField,
    CartJourney,
    CartJourneyEvent,
    JourneyQuerySet,
    email_matches,
    email_matches_any,
    raw_email_candidates,
    same_email,
)
from oscar_recovery.models.messages import (
    MessageQuerySet,
    RecoveryMessage,
    SendRateBucket,
    TrackingEvent,
)
from oscar_recovery.models.operations import HandOff, SweepCursor, SweepRun, WorkerHeartbeat
from oscar_recovery.models.privacy import ConsentConfirmation, ConsentEvent, SuppressedAddress
from oscar_recovery.models.prompts import Prompt, PromptEvent, PromptVariant
from oscar_recovery.models.recommendations import BoughtTogether, ProductSales
from oscar_recovery.models.segments import Segment, SegmentMembership
from oscar_recovery.models.stats import DailyProductStat, DailyStat
from oscar_recovery.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    new_webhook_secret,
)

__all__ = [
    "Audience",
    "AudienceMember",
    "BoughtTogether",
    "Campaign",
    "CampaignEnrolment",
    "CampaignStep",
    "CanonicalEmailField",
    "CartJourney",
    "CartJourneyEvent",
    "ConsentConfirmation",
    "ConsentEvent",
    "Contact",
    "ContactFacts",
    "ContactIdentifier",
    "ContactMerge",
    "DailyProductStat",
    "DailyStat",
    "HandOff",
    "JourneyQuerySet",
    "MessageQuerySet",
    "ProductSales",
    "Prompt",
    "PromptEvent",
    "PromptVariant",
    "RecoveryMessage",
    "Segment",
    "SegmentMembership",
    "SendRateBucket",
    "StepVariant",
    "SuppressedAddress",
    "SweepCursor",
    "SweepRun",
    "TrackingEvent",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WorkerHeartbeat",
    "email_matches",
    "email_matches_any",
    "new_webhook_secret",
    "raw_email_candidates",
    "same_email",
]
