"""The Django admin, which autodiscovers this module: importing each admin module registers
its models. Journeys, suppressions and messages are facts about shoppers: staff see them
read-only. Campaigns and their steps are edited here (:mod:`.campaigns`, logic in
:mod:`.forms`); prompts, segments, audiences, outgoing webhooks, contacts and the consent
ledger keep their
admin in their own packages."""

from oscar_recovery.admin import campaigns, journeys  # noqa: F401
from oscar_recovery.audiences import admin as audiences_admin  # noqa: F401
from oscar_recovery.contacts import admin as contacts_admin  # noqa: F401
from oscar_recovery.outgoing_webhooks import admin as outgoing_webhooks_admin  # noqa: F401
from oscar_recovery.privacy import admin as privacy_admin  # noqa: F401
from oscar_recovery.prompts import admin as prompts_admin  # noqa: F401
from oscar_recovery.segments import admin as segments_admin  # noqa: F401
