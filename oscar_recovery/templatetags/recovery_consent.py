"""``{% recovery_consent_field %}``: the consent notice and its checkbox, for any form where
a shopper gives their email (Oscar's checkout gateway, a shop's own forms).

Put it inside the ``<form>``::

    {% load recovery_consent %}
    {% recovery_consent_field %}

On submit, the ``start_checkout`` receiver (or
:func:`oscar_recovery.privacy.consent.decision_from_form`
in a shop's own view) records the decision with the exact words shown.
"""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string

from oscar_recovery.privacy import consent

register = template.Library()


@register.simple_tag(takes_context=True)
def recovery_consent_field(context, template_name: str = "oscar_recovery/consent_field.html"):
    shown = consent.notice()
    request = context.get("request")
    submitted = request.POST.get(consent.CHOICE_FIELD) if request is not None else None
    return render_to_string(
        template_name,
        {
            "notice": shown,
            "signed_notice": shown.signed(),
            "choice_field": consent.CHOICE_FIELD,
            "notice_field": consent.NOTICE_FIELD,
            # Unticked by default; a form shown again after an error keeps the shopper's tick.
            "value": consent.YES if shown.asks_consent else consent.NO,
            "checked": submitted in (consent.YES, consent.NO),
        },
    )
