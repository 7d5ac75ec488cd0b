"""Connects capture to Oscar's and Django's signals. Thin by design: each receiver hands
what the signal carries to :mod:`oscar_recovery.capture`, which never raises."""

from anymail.signals import tracking
from django.core.signals import request_finished, request_started
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save
from django.dispatch import receiver
from oscar.apps.basket.signals import basket_addition, voucher_addition, voucher_removal
from oscar.apps.catalogue.signals import product_viewed
from oscar.apps.checkout.signals import pre_payment, start_checkout
from oscar.apps.order.signals import order_placed
from oscar.core.loading import get_model

from oscar_recovery import signals
from oscar_recovery.campaigns import dispatch, enrolment
from oscar_recovery.capture import scope as capture
from oscar_recovery.capture.visitor import ensure_visitor_cookie
from oscar_recovery.constants import CheckoutStep, EmailSource
from oscar_recovery.models import CartJourney
from oscar_recovery.outcomes import attribution
from oscar_recovery.outcomes import tracking as tracking_events
from oscar_recovery.outgoing_webhooks import events as outgoing_webhooks
from oscar_recovery.privacy import consent
from oscar_recovery.recommendations import cooccurrence
from oscar_recovery.reporting import alerts
from oscar_recovery.sweep import browse
from oscar_recovery.utils import never_raises

Basket = get_model("basket", "Basket")
Line = get_model("basket", "Line")


@receiver(request_started, dispatch_uid="oscar_recovery.request_started")
def on_request_started(sender, environ=None, **kwargs):
    capture.begin_request(environ or {})


@receiver(request_finished, dispatch_uid="oscar_recovery.request_finished")
def on_request_finished(sender, **kwargs):
    capture.end_request()


@receiver(basket_addition, dispatch_uid="oscar_recovery.basket_addition")
def on_basket_addition(sender, product, user, request, **kwargs):
    capture.request_seen(request)
    capture.lines_changed(request.basket)


@receiver(post_save, sender=Line, dispatch_uid="oscar_recovery.line_saved")
@receiver(post_delete, sender=Line, dispatch_uid="oscar_recovery.line_deleted")
def on_line_changed(sender, instance, **kwargs):
    # Oscar sends no signal for quantity changes and removals. Its related managers hand the
    # line its basket; never load one here (that would cost a query per line).
    if Line.basket.is_cached(instance):
        capture.lines_changed(instance.basket)


@receiver(voucher_addition, dispatch_uid="oscar_recovery.voucher_addition")
@receiver(voucher_removal, dispatch_uid="oscar_recovery.voucher_removal")
def on_voucher_changed(sender, basket, voucher, **kwargs):
    capture.request_seen(sender.request)
    capture.vouchers_changed(basket)


@receiver(m2m_changed, sender=Basket.vouchers.through, dispatch_uid="oscar_recovery.vouchers")
def on_vouchers_m2m(sender, instance, action, reverse, **kwargs):
    # Vouchers also move without Oscar's voucher signals (a login merge moves them).
    if not reverse and action in ("post_add", "post_remove", "post_clear"):
        capture.vouchers_changed(instance)


@receiver(post_save, sender=Basket, dispatch_uid="oscar_recovery.basket_saved")
def on_basket_saved(sender, instance, created, **kwargs):
    capture.basket_saved(instance, created)


@receiver(post_init, sender=Basket, dispatch_uid="oscar_recovery.basket_loaded")
def on_basket_loaded(sender, instance, **kwargs):
    capture.basket_loaded(instance)


@receiver(start_checkout, dispatch_uid="oscar_recovery.start_checkout")
def on_start_checkout(sender, request, email=None, **kwargs):
    capture.request_seen(request)
    basket = request.basket
    capture.step_reached(basket, CheckoutStep.GATEWAY)
    if email:
        capture.email_given(basket, email, EmailSource.CHECKOUT)
    elif request.user.is_authenticated and request.user.email:
        capture.email_given(basket, request.user.email, EmailSource.ACCOUNT)
    if request.method == "POST":
        decision = never_raises(consent.decision_from_form)(request.POST)
        if decision is not None:
            capture.consent_decided(basket, decision)


@receiver(pre_payment, dispatch_uid="oscar_recovery.pre_payment")
def on_pre_payment(sender, view, **kwargs):
    # Sent when the shopper places the order: whatever the checkout's pages, they reached
    # its last step.
    capture.request_seen(view.request)
    capture.step_reached(view.request.basket, CheckoutStep.PREVIEW)


@receiver(order_placed, dispatch_uid="oscar_recovery.order_placed")
def on_order_placed(sender, order, user=None, **kwargs):
    # Also sent by headless checkouts (django-oscar-api) that never submit the basket.
    capture.order_placed(order)


@receiver(product_viewed, dispatch_uid="oscar_recovery.product_viewed")
def on_product_viewed(sender, product, user, request, response, **kwargs):
    never_raises(ensure_visitor_cookie)(request, response)


@receiver(signals.journeys_abandoned, sender=CartJourney, dispatch_uid="oscar_recovery.enrol")
def on_journeys_abandoned(sender, journey_ids, **kwargs):
    enrolment.enrol_journeys(journey_ids)


@receiver(tracking, dispatch_uid="oscar_recovery.tracking")
def on_tracking_event(sender, event, esp_name, **kwargs):
    # A receiver that raises makes anymail answer 400 and the ESP retry the whole batch;
    # one bad event must not do that, so failures are logged instead.
    never_raises(tracking_events.apply_tracking_event)(event, esp_name)


@receiver(signals.journey_ended, sender=CartJourney, dispatch_uid="oscar_recovery.stop")
def on_journey_ended(sender, journey, order, **kwargs):
    never_raises(dispatch.stop_enrolment)(journey.pk, "order_placed")
    never_raises(attribution.attribute_order)(journey, order)


# Staff alerts and outgoing webhooks: each receiver queues work, guarded, so neither the
# sweep nor a shop request can fail because of them.


@receiver(signals.journeys_abandoned, sender=CartJourney, dispatch_uid="oscar_recovery.alerts")
def on_journeys_abandoned_alert(sender, journey_ids, **kwargs):
    never_raises(alerts.queue_abandoned_alerts)(journey_ids)


@receiver(signals.journeys_abandoned, sender=CartJourney, dispatch_uid="oscar_recovery.wh_abandon")
def on_journeys_abandoned_webhooks(sender, journey_ids, **kwargs):
    never_raises(outgoing_webhooks.queue_abandoned)(journey_ids)


@receiver(signals.email_captured, sender=CartJourney, dispatch_uid="oscar_recovery.wh_contact")
def on_email_captured_webhooks(sender, journey, source, **kwargs):
    never_raises(outgoing_webhooks.contact_captured)(journey, source)


@receiver(signals.email_sent, sender=CartJourney, dispatch_uid="oscar_recovery.wh_sent")
def on_email_sent_webhooks(sender, message, **kwargs):
    never_raises(outgoing_webhooks.email_sent)(message.pk)


@receiver(signals.journey_ended, sender=CartJourney, dispatch_uid="oscar_recovery.wh_recovered")
def on_journey_ended_webhooks(sender, journey, order, **kwargs):
    never_raises(outgoing_webhooks.journey_ended)(journey.pk)


@receiver(signals.unsubscribed, sender=CartJourney, dispatch_uid="oscar_recovery.wh_unsub")
def on_unsubscribed_webhooks(sender, email_hash, reason, **kwargs):
    never_raises(outgoing_webhooks.unsubscribed)(email_hash, reason)


@receiver(signals.email_captured, sender=CartJourney, dispatch_uid="oscar_recovery.consent_email")
def on_email_captured(sender, journey, email, **kwargs):
    # A "no thanks" said before the address was known covers it from now on.
    never_raises(consent.email_attached)(journey, email)


# -- Recommendations and browse abandonment ------------------------------------------------


@receiver(order_placed, dispatch_uid="oscar_recovery.recommendations_order")
def on_order_placed_recommendations(sender, order, user=None, **kwargs):
    # The order's pairs are counted by a Celery task after the checkout's transaction
    # commits: nothing of it can slow or fail the checkout.
    never_raises(cooccurrence.schedule_order)(order)
    never_raises(browse.end_with_order)(order)


# -- on-site prompts ----------------------------------------------------------------------

from oscar.apps.checkout.signals import post_checkout  # noqa: E402

from oscar_recovery.models import Prompt, PromptVariant  # noqa: E402
from oscar_recovery.prompts import service as prompt_service  # noqa: E402
from oscar_recovery.prompts import state as prompt_state  # noqa: E402
from oscar_recovery.prompts import targeting as prompt_eligibility  # noqa: E402


@receiver(post_save, sender=Prompt, dispatch_uid="oscar_recovery.prompt_saved")
@receiver(post_delete, sender=Prompt, dispatch_uid="oscar_recovery.prompt_deleted")
@receiver(post_save, sender=PromptVariant, dispatch_uid="oscar_recovery.prompt_variant_saved")
@receiver(post_delete, sender=PromptVariant, dispatch_uid="oscar_recovery.prompt_variant_deleted")
def on_prompt_changed(sender, **kwargs):
    never_raises(prompt_eligibility.clear_cache)()


@receiver(voucher_addition, dispatch_uid="oscar_recovery.prompt_offer_used")
def on_prompt_voucher_added(sender, basket, voucher, **kwargs):
    never_raises(prompt_service.record_offer_used)(voucher.code)


@receiver(signals.journey_ended, sender=CartJourney, dispatch_uid="oscar_recovery.prompt_converted")
def on_journey_ended_prompts(sender, journey, order, **kwargs):
    never_raises(prompt_service.record_conversion)(journey, order)


@receiver(post_checkout, dispatch_uid="oscar_recovery.prompt_ordered")
def on_post_checkout(sender, order, request, response, **kwargs):
    # The order page's response is the one chance to tell the browser: no more prompts.
    never_raises(prompt_state.mark_ordered)(request, response)
