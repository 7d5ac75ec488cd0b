"""Connects prompts to the shop: the cached prompt list is dropped when staff edit one,
a prompt's voucher used in a basket and an order after a prompt are recorded, and the
order page tells the browser to show no more prompts. Each receiver is guarded."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from oscar.apps.basket.signals import voucher_addition
from oscar.apps.checkout.signals import post_checkout

from oscar_recovery import signals
from oscar_recovery.models import CartJourney, Prompt, PromptVariant
from oscar_recovery.prompts import service as prompt_service
from oscar_recovery.prompts import state as prompt_state
from oscar_recovery.prompts import targeting as prompt_eligibility
from oscar_recovery.utils import never_raises


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
