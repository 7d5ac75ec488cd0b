"""Connects capture to Oscar's and Django's signals. Thin by design: each receiver hands
what the signal carries to :mod:`oscar_recovery.capture`, which never raises."""

from django.core.signals import request_finished, request_started
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save
from django.dispatch import receiver
from oscar.apps.basket.signals import basket_addition, voucher_addition, voucher_removal
from oscar.apps.catalogue.signals import product_viewed
from oscar.apps.checkout.signals import pre_payment, start_checkout
from oscar.apps.order.signals import order_placed
from oscar.core.loading import get_model

from oscar_recovery.capture import scope as capture
from oscar_recovery.capture.visitor import ensure_visitor_cookie
from oscar_recovery.constants import CheckoutStep, EmailSource
from oscar_recovery.privacy import ads_consent, consent
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
        ads = never_raises(ads_consent.decision_from_form)(request.POST)
        if ads is not None and ads.given:
            capture.ads_consent_given(basket, ads)


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
