"""The shopper's advertising consent page: see it, give it (the unticked box) or withdraw
it. Thin: the ledger writes are :mod:`.consent`'s.

* ``/recovery/ads-consent/``: for a signed-in customer, about their account's address;
* ``/recovery/ads-consent/<token>/``: from a link (an email, a receipt), about the address
  the signed token names; it can only withdraw (a link can be forwarded; a consent must be
  given by the person, signed in or at checkout).

GET never changes anything (link scanners open links); POST does, CSRF-checked.
"""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from oscar_recovery.constants import ConsentSource
from oscar_recovery.contacts.addresses import display_email, safe_canonical_email
from oscar_recovery.privacy import ads_consent

_LINK_SALT = "oscar_recovery.ads_consent_link"


def withdrawal_token(email: str) -> str:
    """The token of a withdrawal link for ``email`` (no expiry: a withdrawal link must keep
    working)."""
    return signing.dumps(safe_canonical_email(email), salt=_LINK_SALT, compress=True)


def _address_of_token(token: str) -> str:
    try:
        value = signing.loads(token, salt=_LINK_SALT)
    except signing.BadSignature:
        return ""
    return safe_canonical_email(value) if isinstance(value, str) else ""


def _masked(email: str) -> str:
    shown = display_email(email)
    local, _, domain = shown.partition("@")
    return f"{local[:1]}…@{domain}" if domain else ""


@method_decorator(never_cache, name="dispatch")
class AdsConsentView(View):
    template_name = "oscar_recovery/ads_consent.html"

    def _address(self, request: HttpRequest, token: str | None) -> str:
        if token is not None:
            return _address_of_token(token)
        user = request.user
        return safe_canonical_email(user.email) if user.is_authenticated else ""

    def get(self, request: HttpRequest, token: str | None = None) -> HttpResponse:
        return self.render(request, token)

    def post(self, request: HttpRequest, token: str | None = None) -> HttpResponse:
        address = self._address(request, token)
        if not address:
            return self.render(request, token, status=400)
        if request.POST.get("action") == "withdraw":
            ads_consent.withdraw(
                address,
                source=ConsentSource.OTHER if token is not None else ConsentSource.ACCOUNT,
                evidence={"via": "link" if token is not None else "account page"},
            )
            return self.render(request, token, done="withdrawn")
        if token is None:
            decision = ads_consent.decision_from_form(request.POST)
            if decision is not None and decision.given:
                ads_consent.record(address, decision, source=ConsentSource.ACCOUNT)
                return self.render(request, token, done="given")
        return self.render(request, token)

    def render(self, request, token, *, done: str = "", status: int = 200) -> HttpResponse:
        address = self._address(request, token)
        return render(
            request,
            self.template_name,
            {
                "address_known": bool(address),
                "masked_email": _masked(address) if address else "",
                "granted": ads_consent.is_granted(address) if address else False,
                "from_link": token is not None,
                "signed_in": request.user.is_authenticated,
                "done": done,
            },
            status=status,
        )
