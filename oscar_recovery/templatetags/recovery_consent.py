"""``{% recovery_consent_field %}``: the consent notice and its checkbox, for any form where
a shopper gives their email (Oscar's checkout gateway, a shop's own forms).

Put it inside the ``<form>``::

    {% load recovery_consent %}
    {% recovery_consent_field %}

On submit, the ``start_checkout`` receiver (or
:func:`oscar_recovery.privacy.consent.decision_from_form`
in a shop's own view) records the decision with the exact words shown.

``{% recovery_ads_consent_field %}`` renders the separate advertising consent box (for
retargeting audiences), read on submit by the same receiver or
:func:`oscar_recovery.privacy.ads_consent.decision_from_form`.
"""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string

from oscar_recovery.privacy import ads_consent, consent

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


@register.simple_tag(takes_context=True)
def recovery_ads_consent_field(
    context, template_name: str = "oscar_recovery/ads_consent_field.html"
):
    """The separate advertising consent box, unticked, for the checkout gateway or an
    account page: ticked, the address may be uploaded hashed to retargeting audiences
    (:mod:`oscar_recovery.privacy.ads_consent`). The words shown travel signed with the form
    and are recorded with the consent."""
    request = context.get("request")
    submitted = request.POST.get(ads_consent.CHOICE_FIELD) if request is not None else None
    text = ads_consent.notice_text()
    return render_to_string(
        template_name,
        {
            "text": text,
            "signed_notice": ads_consent.signed_notice(text),
            "choice_field": ads_consent.CHOICE_FIELD,
            "notice_field": ads_consent.NOTICE_FIELD,
            "value": ads_consent.YES,
            # Never ticked for the shopper; a form shown again after an error keeps their tick.
            "checked": submitted == ads_consent.YES,
        },
    )
