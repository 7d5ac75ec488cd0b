from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from oscar.apps.checkout import exceptions, views
from oscar.apps.payment.exceptions import UnableToTakePayment
from oscar.core.loading import get_model

from .forms import DECLINED_TEST_CARD, SandboxCardForm

Source = get_model("payment", "Source")
SourceType = get_model("payment", "SourceType")


class PaymentDetailsView(views.PaymentDetailsView):
    """Takes a pretend card payment.

    Oscar's flow for sensitive data: the payment-details page posts the card to the preview,
    which re-renders it in hidden inputs for "Place order" to post again. The card is thus
    never written to the session or the database; the order keeps its last four digits only.
    """

    def get_context_data(self, **kwargs) -> dict:
        ctx = super().get_context_data(**kwargs)
        ctx.setdefault("card_form", SandboxCardForm())
        return ctx

    def check_payment_data_is_captured(self, request: HttpRequest) -> None:
        # The card only travels in POSTs: a plain GET of the preview has none to charge,
        # unless the order costs nothing (Oscar then skips payment details and GETs preview).
        if request.method != "GET":
            return
        try:
            self.skip_unless_payment_is_required(request)
        except exceptions.PassedSkipCondition:
            return
        raise exceptions.FailedPreCondition(
            url=reverse("checkout:payment-details"),
            message=_("Please enter your card details."),
        )

    def handle_payment_details_submission(self, request: HttpRequest) -> HttpResponse:
        card_form = SandboxCardForm(request.POST)
        if card_form.is_valid():
            return self.render_preview(request, card_form=card_form)
        return self.render_payment_details(request, card_form=card_form)

    def handle_place_order_submission(self, request: HttpRequest) -> HttpResponse:
        submission = self.build_submission()
        if submission["order_total"].incl_tax > 0:
            card_form = SandboxCardForm(request.POST)
            if not card_form.is_valid():
                return self.render_payment_details(request, card_form=card_form)
            # Passed on to handle_payment, and back to the page if the payment fails.
            submission["payment_kwargs"]["card_form"] = card_form
        return self.submit(**submission)

    def handle_payment(self, order_number, total, card_form=None, **kwargs) -> None:
        if card_form is None:
            return  # nothing to pay, e.g. a 100% voucher
        if card_form.cleaned_data["number"] == DECLINED_TEST_CARD:
            # Oscar catches this, thaws the basket and shows the message on payment details.
            raise UnableToTakePayment(_("Your card was declined (sandbox test card)."))
        source_type, __ = SourceType.objects.get_or_create(name="Sandbox card")
        reference = f"sandbox-{order_number}"
        self.add_payment_source(
            Source(
                source_type=source_type,
                currency=total.currency,
                amount_allocated=total.incl_tax,
                amount_debited=total.incl_tax,
                reference=reference,
                label=_("Card ending %(last4)s") % {"last4": card_form.last4},
            )
        )
        self.add_payment_event("Settled", total.incl_tax, reference=reference)
