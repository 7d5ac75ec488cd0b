"""The example prompts, installed by ``manage.py recovery_install_prompts``.

Exit intent offers new visitors free delivery and returning visitors 10 % off (the defaults
the research suggests), the guest-checkout banner tells anonymous shoppers at the checkout
gateway that no account is needed, and a returning visitor is reminded of their basket or
recently viewed items. An email-capture prompt is installed switched off: not every shop
wants a second dialog. Texts come in the shop's ``LANGUAGE_CODE`` and in every language the
app ships (en, ar, fa, ko, ro); owners edit them side by side in the admin.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext_noop

from oscar_recovery.campaigns.translations import translations_of
from oscar_recovery.constants import Incentive, PromptKind, VisitorType
from oscar_recovery.models import Prompt

CONSENT = gettext_noop("Email me about my basket and offers. I can unsubscribe at any time.")

#: name -> (fields, switched on by --activate)
DEFAULT_PROMPTS: dict[str, tuple[dict, bool]] = {
    "Exit intent: new visitors (free delivery)": (
        {
            "kind": PromptKind.EXIT_INTENT,
            "priority": 100,
            "visitor_type": VisitorType.NEW,
            "headline": gettext_noop("Before you go: free delivery on this order"),
            "body": gettext_noop(
                "Leave your email and we will keep your basket and send you a code for "
                "free delivery."
            ),
            "cta_label": gettext_noop("Get free delivery"),
            "consent_text": CONSENT,
            "incentive": Incentive.FREE_SHIPPING,
        },
        True,
    ),
    "Exit intent: returning visitors (10% off)": (
        {
            "kind": PromptKind.EXIT_INTENT,
            "priority": 110,
            "visitor_type": VisitorType.RETURNING,
            # xgettext:no-python-format
            "headline": gettext_noop("Good to see you again: 10% off today"),
            # xgettext:no-python-format
            "body": gettext_noop(
                "Leave your email and we will keep your basket and send you a code for 10% "
                "off your order."
            ),
            # xgettext:no-python-format
            "cta_label": gettext_noop("Get 10% off"),
            "consent_text": CONSENT,
            "incentive": Incentive.PERCENTAGE,
            "incentive_value": Decimal("10"),
        },
        True,
    ),
    "Guest checkout": (
        {
            "kind": PromptKind.GUEST_CHECKOUT,
            "asks_email": False,
            "headline": gettext_noop("No account needed"),
            "body": gettext_noop(
                "Check out as a guest with just your email address. You can still create "
                "an account after your order."
            ),
            "cta_label": gettext_noop("Continue as a guest"),
        },
        True,
    ),
    "Welcome back": (
        {
            "kind": PromptKind.RETURNING_BANNER,
            "asks_email": False,
            "requires_basket": False,
            "visitor_type": VisitorType.RETURNING,
            "headline": gettext_noop("Welcome back"),
            "body": gettext_noop("Pick up where you left off."),
            "cta_label": gettext_noop("View your basket"),
        },
        True,
    ),
    "Email capture: stay in touch": (
        {
            "kind": PromptKind.EMAIL_CAPTURE,
            "requires_basket": False,
            "headline": gettext_noop("Hear about new arrivals first"),
            "body": gettext_noop("Join our newsletter. We write rarely and never share it."),
            "cta_label": gettext_noop("Sign up"),
            "consent_text": gettext_noop("Send me the newsletter. I can unsubscribe at any time."),
            "consent_required": True,
            "delay_seconds": 20,
            "scroll_percent": 60,
        },
        False,
    ),
}

_TEXT_FIELDS = ("headline", "body", "cta_label", "consent_text")


def install_default_prompts(*, activate: bool = False) -> list[Prompt]:
    """Create the example prompts that are missing; existing ones (perhaps edited) are left
    as they are, except that ``activate`` switches on those meant to be on. Their texts are
    in the shop's ``LANGUAGE_CODE`` and, as translations, in every language the app ships."""
    installed = []
    with transaction.atomic():
        for name, (fields, on) in DEFAULT_PROMPTS.items():
            texts, translations = translations_of(
                {key: value for key, value in fields.items() if key in _TEXT_FIELDS}
            )
            values = {**fields, **texts, "translations": translations}
            prompt, created = Prompt.objects.get_or_create(
                name=name, defaults={**values, "is_active": activate and on}
            )
            if not created and activate and on and not prompt.is_active:
                prompt.is_active = True
                prompt.save(update_fields=["is_active", "updated_at"])
            installed.append(prompt)
    return installed
