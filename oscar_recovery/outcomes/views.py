"""Shopper-facing views. Thin: validation and business rules live in tokens, suppression
and restore."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from oscar_recovery import signals
from oscar_recovery.adapter import get_adapter
from oscar_recovery.constants import LawfulBasis, SuppressionReason
from oscar_recovery.models import CartJourney
from oscar_recovery.outcomes import restore
from oscar_recovery.privacy import confirmation, consent
from oscar_recovery.privacy.suppression import unsubscribe_hash
from oscar_recovery.sending.tokens import (
    InvalidLink,
    check_restore_token,
    check_unsubscribe_token,
    unsubscribe_details,
)
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

#: Pages whose URL carries a token (unsubscribe, double opt-in, restore) keep it out of
#: Referer headers, yet forms posted from them (their own button, the shop's language
#: switcher) must still pass Django's CSRF check: "strict-origin" sends the origin alone,
#: never the path, where "no-referrer" made the browser send ``Origin: null`` (403).
TOKEN_PAGE_REFERRER_POLICY = "strict-origin"


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class UnsubscribeView(View):
    """RFC 8058 one-click unsubscribe.

    GET (what a person, or a link scanner, opens) only shows a confirmation form. POST (the
    form, or a mail client's one-click request, which carries no cookies and no CSRF token)
    suppresses the address at once; repeating it changes nothing. Never redirects.
    """

    template_name = "oscar_recovery/unsubscribe.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            check_unsubscribe_token(token)
        except InvalidLink as exc:
            return self.render(request, token, error=exc, status=400)
        return self.render(request, token)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            hashed = check_unsubscribe_token(token)
        except InvalidLink as exc:
            return self.render(request, token, error=exc, status=400)
        newly = unsubscribe_hash(hashed, language=translation.get_language() or "")
        if newly:
            # The shopper is unsubscribed whatever a receiver does.
            signals.unsubscribed.send_robust(
                sender=CartJourney, email_hash=hashed, reason=SuppressionReason.UNSUBSCRIBED
            )
        return self.render(request, token, done=True)

    def render(self, request, token, *, error=None, done=False, status=200) -> HttpResponse:
        # The page speaks the email's language (a mail client's one-click POST carries no
        # cookie or Accept-Language worth trusting) and names the address only masked.
        masked, language = unsubscribe_details(token)
        if language not in {code for code, _name in settings.LANGUAGES}:
            language = translation.get_language()
        with translation.override(language):
            response = render(
                request,
                self.template_name,
                {"token": token, "error": error, "done": done, "masked_email": masked},
                status=status,
            )
        response["Content-Language"] = language
        response["Referrer-Policy"] = TOKEN_PAGE_REFERRER_POLICY
        return response


@method_decorator(never_cache, name="dispatch")
class ConfirmConsentView(View):
    """The link of a double opt-in email (see :mod:`oscar_recovery.privacy.confirmation`).

    GET (what a person, a link scanner or a mail client's preview opens) only shows the
    consent wording and a button; the POST of that button (CSRF-protected) records the
    confirmation. Repeating it changes nothing. An invalid link gets 400 (tampered) or
    410 (expired, or its journey no longer holds the address it was sent to).
    """

    template_name = "oscar_recovery/confirm_consent.html"
    http_method_names = ["get", "post", "head", "options"]
    STATUS = {InvalidLink.TAMPERED: 400, InvalidLink.EXPIRED: 410, InvalidLink.USED_UP: 410}

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            confirmation.check_confirmation_token(token)
        except InvalidLink as exc:
            return self.render(request, token, error=exc, status=self.STATUS[exc.reason])
        return self.render(request, token)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            journey = confirmation.check_confirmation_token(token)
        except InvalidLink as exc:
            return self.render(request, token, error=exc, status=self.STATUS[exc.reason])
        confirmation.confirm(journey)
        return self.render(request, token, done=True)

    def render(self, request, token, *, error=None, done=False, status=200) -> HttpResponse:
        context = {
            "token": token,
            "error": error,
            "done": done,
            "consent_text": consent.notice(LawfulBasis.CONSENT).text,
        }
        response = render(request, self.template_name, context, status=status)
        # The page's own URL carries the token: keep it out of Referer headers.
        response["Referrer-Policy"] = TOKEN_PAGE_REFERRER_POLICY
        return response


@method_decorator(never_cache, name="dispatch")
class RestoreView(View):
    """The "return to your basket" link of recovery emails.

    Restores the basket (see :mod:`oscar_recovery.restore`) and answers 303 with a clean
    URL, so the token stays out of history, bookmarks and Referer headers. A link that
    cannot be honoured gets a friendly page: 400 tampered, 410 expired or used up, 429 over
    the rate limit. Nothing here may answer 500: an unexpected failure is logged and the
    shopper still lands on their basket.
    """

    template_name = "oscar_recovery/restore_invalid.html"
    http_method_names = ["get", "head", "options"]
    STATUS = {InvalidLink.TAMPERED: 400, InvalidLink.EXPIRED: 410, InvalidLink.USED_UP: 410}
    RATE_LIMITED = _("You have opened too many basket links. Please try again in a few minutes.")

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        # Invalid links count per client and valid ones per link, so a flood of junk (from
        # anyone sharing the client's address) never locks out a genuine link; checking a
        # signature costs no query, and a token cannot be guessed anyway.
        try:
            link = check_restore_token(token)
        except InvalidLink as exc:
            retry_after = restore.throttle_invalid(request)
            if retry_after is not None:
                return self.rate_limited(request, retry_after)
            return self.invalid(request, exc.message, status=self.STATUS[exc.reason])
        retry_after = restore.throttle_link(link)
        if retry_after is not None:
            return self.rate_limited(request, retry_after)
        language = restore.journey_language(link.journey)
        try:
            # In the journey's language: the redirect's URL (a shop with i18n_patterns
            # gets the language prefix) and the confirmation the basket page shows.
            with translation.override(language or translation.get_language()):
                outcome = restore.restore_basket(request, link)
                self.guarded(restore.welcome_back, request, outcome)
        except InvalidLink as exc:
            return self.invalid(request, exc.message, status=self.STATUS[exc.reason])
        except Exception:
            logger.exception("oscar_recovery: restoring a basket failed")
            return self.redirect(restore.basket_url())
        if self.is_click(request):
            self.guarded(
                restore.record_click,
                link.message_id,
                link.journey,
                copied_to=outcome.copied_to,
            )
        response = self.redirect(outcome.redirect_to)
        if outcome.cookie_basket_id is not None:
            restore.set_basket_cookie(request, response, outcome.cookie_basket_id)
        restore.set_language_cookie(response, language)
        return response

    def rate_limited(self, request: HttpRequest, retry_after: int) -> HttpResponse:
        response = self.invalid(request, self.RATE_LIMITED, status=429)
        response["Retry-After"] = str(retry_after)
        return response

    @staticmethod
    def is_click(request: HttpRequest) -> bool:
        # Link scanners and mail-client previews fetch every link; they are no click.
        user_agent = request.META.get("HTTP_USER_AGENT", "")
        return request.method == "GET" and not get_adapter().is_bot(user_agent)

    @staticmethod
    def guarded(func, *args, **kwargs) -> None:
        # Tracking must never stand between the shopper and their basket.
        try:
            func(*args, **kwargs)
        except Exception:
            logger.exception("oscar_recovery: %s failed", func.__name__)

    @staticmethod
    def redirect(url: str) -> HttpResponse:
        response = HttpResponseRedirect(url, status=303)
        response["Referrer-Policy"] = TOKEN_PAGE_REFERRER_POLICY
        return response

    def invalid(self, request: HttpRequest, message: str, *, status: int) -> HttpResponse:
        response = render(request, self.template_name, {"message": message}, status=status)
        # The page's own URL carries the token: keep it out of Referer headers.
        response["Referrer-Policy"] = TOKEN_PAGE_REFERRER_POLICY
        return response
