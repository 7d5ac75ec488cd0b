"""Abandonment capture: what each request changed, written once when it ends.

Oscar's signals and model signals fire many times in one request (a basket formset saves
every line; a login merge moves each line). Receivers only *note* changes on the request's
:class:`CaptureScope`; when the request finishes the scope writes each touched journey once,
which keeps capture to at most two queries per basket-changing request and none per plain
page view. Outside a request (shell, Celery, management commands) notes are written at once.

Nothing here may break the shop: every entry point swallows and logs its own errors.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.urls import Resolver404, resolve
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery import app_settings
from oscar_recovery.adapter import get_adapter
from oscar_recovery.capture.history import viewed_from_cookie
from oscar_recovery.capture.snapshot import take_snapshot, voucher_codes
from oscar_recovery.capture.visitor import read_visitor_id
from oscar_recovery.constants import CheckoutStep, EmailSource
from oscar_recovery.contacts.addresses import InvalidAddress, canonical_email
from oscar_recovery.journeys import writes as journeys
from oscar_recovery.models import CartJourney
from oscar_recovery.privacy import confirmation, consent
from oscar_recovery.utils import never_raises

Basket = get_model("basket", "Basket")


@dataclass
class _BasketChanges:
    basket: Any
    lines: bool = False
    vouchers: bool = False
    email: tuple[str, str] | None = None
    #: A consent decision the request's form carried
    #: (:class:`oscar_recovery.privacy.consent.Decision`).
    consent: Any = None
    #: A ticked ads consent box (:class:`oscar_recovery.privacy.ads_consent.Decision`).
    ads_consent: Any = None
    #: The journey whose restore link copied its lines into this basket.
    restored_from: int | None = None
    #: Freezes (True) and thaws (False) of the basket, with when, oldest first.
    frozen: list[tuple[bool, Any]] = field(default_factory=list)


@dataclass
class CaptureScope:
    """Changes noted during one request."""

    path: str = ""
    method: str = ""
    cookies: dict[str, str] = field(default_factory=dict)
    user_agent: str | None = None
    request: HttpRequest | None = None
    changes: dict[int, _BasketChanges] = field(default_factory=dict)
    merges: list[tuple[int, Any]] = field(default_factory=list)
    # Baskets loaded by a checkout-step request, and the step (resolved once, lazily).
    step: CheckoutStep | None = None
    step_resolved: bool = False
    step_baskets: dict[int, Any] = field(default_factory=dict)
    # Baskets whose order this request placed: their journey has ended, nothing more to write.
    ordered: set[int] = field(default_factory=set)

    def changes_for(self, basket) -> _BasketChanges:
        entry = self.changes.get(basket.id)
        if entry is None:
            entry = self.changes[basket.id] = _BasketChanges(basket=basket)
        else:
            entry.basket = basket
        return entry

    def viewed(self) -> list[int] | None:
        """Oscar's recently-viewed cookie, read when a journey is written (browse history
        costs no write of its own)."""
        return viewed_from_cookie(self.request.COOKIES if self.request else self.cookies)

    def shopper(self, basket=None) -> journeys.Shopper:
        request = self.request
        user = getattr(request, "user", None) if request is not None else None
        if user is None and basket is not None and Basket.owner.is_cached(basket):
            user = basket.owner
        if user is not None and not user.is_authenticated:
            user = None
        cookies = request.COOKIES if request is not None else self.cookies
        user_agent = self.user_agent
        if request is not None:
            user_agent = request.META.get("HTTP_USER_AGENT", "")
        return journeys.Shopper(
            user=user,
            visitor_id=read_visitor_id(cookies),
            language=get_adapter().get_language(request),
            user_agent=user_agent,
        )


_scope: contextvars.ContextVar[CaptureScope | None] = contextvars.ContextVar(
    "oscar_recovery_capture_scope", default=None
)
# The basket whose lines changed last: Oscar's Basket.merge moves lines into the master
# basket before it saves the merged one, so this names the master when the merge lands.
# Outside a request it is kept with the transaction it was noted in (see _line_marker): a
# basket noted by an earlier, unrelated transaction must never be taken for the master.
_last_line_basket: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "oscar_recovery_last_line_basket", default=None
)


def _enabled() -> bool:
    return app_settings.CAPTURE_ENABLED


# -- request boundaries -------------------------------------------------------------------


@never_raises
def begin_request(environ: dict) -> None:
    if not _enabled():
        _scope.set(None)
        return
    _scope.set(
        CaptureScope(
            path=environ.get("PATH_INFO", ""),
            method=environ.get("REQUEST_METHOD", ""),
            cookies=parse_cookie(environ.get("HTTP_COOKIE", "")),
            user_agent=environ.get("HTTP_USER_AGENT", ""),
        )
    )
    _last_line_basket.set(None)


@never_raises
def end_request() -> None:
    scope = _scope.get()
    _scope.set(None)
    _last_line_basket.set(None)
    if scope is not None:
        _flush(scope)


def _flush(scope: CaptureScope) -> None:
    """Write what the request changed. Runs after the response is complete."""
    # Capture may have to open a connection after Django closed the request's one; close it
    # again the way Django would, so no idle connection is left behind.
    opened = {alias for alias in connections if connections[alias].connection is None}
    try:
        now = timezone.now()
        for slave_id, master in scope.merges:
            _guarded(journeys.merge_baskets, slave_id, master, now=now)
        step, first_name = scope.step, ""
        stepped = {
            b.id
            for b in scope.step_baskets.values()
            if step is not None and b.status in _TRACKED_BASKET_STATUSES
        } - scope.ordered
        if stepped and step == CheckoutStep.SHIPPING_ADDRESS and scope.method == "POST":
            first_name = _checkout_first_name(scope) or ""
        for basket_id, change in scope.changes.items():
            if basket_id in scope.ordered:
                continue
            # One statement per basket: the step reached is written with its other changes.
            folded = basket_id in stepped and _writes_row(change)
            if folded:
                stepped.discard(basket_id)
            _guarded(
                _write_changes,
                change,
                scope,
                now,
                step=step if folded else None,
                first_name=first_name if folded else "",
            )
        if stepped:
            _guarded(journeys.record_step, sorted(stepped), step, now=now, first_name=first_name)
    finally:
        for alias in opened:
            connection = connections[alias]
            if connection.connection is not None and not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()


@never_raises
def _checkout_first_name(scope: CaptureScope) -> str:
    """The first name of the shipping address typed at checkout, from Oscar's checkout
    session (``CheckoutSessionData``), for the email's greeting; never the rest of the
    address. Read after the response of the shipping address form's submission only, where
    it is typed (the session is loaded from its cookie when the request was not kept: one
    query, on that one request)."""
    session = getattr(scope.request, "session", None)
    if session is None:
        key = scope.cookies.get(settings.SESSION_COOKIE_NAME)
        if not key:
            return ""
        session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    shipping = (session.get("checkout_data") or {}).get("shipping") or {}
    fields = shipping.get("new_address_fields") or {}
    name = fields.get("first_name") if isinstance(fields, dict) else None
    return name.strip() if isinstance(name, str) else ""


def _guarded(func: Callable, *args, **kwargs) -> None:
    # Each write stands alone: one failing must not stop the others, nor poison an
    # enclosing transaction (the caller's, outside a request: hence a savepoint there). At
    # a request's end there is none: a one-statement write commits on its own, with no
    # BEGIN/COMMIT round trips, and a write of several statements makes its own transaction.
    if transaction.get_connection().in_atomic_block:
        func = transaction.atomic(func)
    never_raises(func)(*args, **kwargs)


_TRACKED_BASKET_STATUSES = (Basket.OPEN, Basket.FROZEN)


def _writes_row(change: _BasketChanges) -> bool:
    """Whether the change is written with the journey's upsert (:func:`_write_changes`)."""
    return change.basket.status == Basket.OPEN and bool(
        change.lines or change.vouchers or change.email
    )


def _write_changes(
    change: _BasketChanges,
    scope: CaptureScope,
    now,
    step: CheckoutStep | None = None,
    first_name: str = "",
) -> None:
    """Write one basket's changes: an open basket's journey in one upsert with its address,
    consent decision and ``step`` (plus one outbox row for what follows); a frozen basket's
    address, decision and freezes in their own statements (rare: a payment page)."""
    basket = change.basket
    client = confirmation.client_of(scope.request) if change.consent is not None else ""
    decision = consent.Recorded.of(change.consent) if change.consent is not None else None
    if _writes_row(change):
        journeys.save_basket(
            basket,
            # An email alone may be the first thing we hear of a basket (the app was
            # installed mid-visit): its journey must not start with no lines.
            snapshot=take_snapshot(basket) if change.lines or change.email else None,
            vouchers=voucher_codes(basket) if change.vouchers else None,
            shopper=scope.shopper(basket),
            email=change.email,
            now=now,
            viewed=scope.viewed(),
            restored_from=change.restored_from,
            step=step,
            first_name=first_name,
            decision=decision,
            ads_decision=change.ads_consent,
            client=client,
        )
    elif change.email or change.consent is not None:
        with transaction.atomic():
            if change.email:
                journeys.attach_email(basket.id, *change.email, now=now)
            if change.consent is not None:
                # After the email: the decision then covers the address it was given with.
                consent.record_for_basket(basket.id, change.consent, at=now, client=client)
    if change.frozen:
        journeys.record_basket_frozen(
            basket.id, change.frozen[-1][0], now=change.frozen[-1][1], events=change.frozen
        )


def _note(basket, **what) -> None:
    """Note a change on the current request, or write it now when there is no request."""
    if basket is None or not getattr(basket, "id", None) or not _enabled():
        return
    scope = _scope.get()
    immediate = scope is None
    if immediate:
        scope = CaptureScope()
    change = scope.changes_for(basket)
    for name, value in what.items():  # flags are only ever raised, never lowered
        setattr(change, name, value)
    if immediate:
        _guarded(_write_changes, change, scope, timezone.now())


# -- what receivers note ------------------------------------------------------------------


@never_raises
def request_seen(request: HttpRequest) -> None:
    """Signals that carry the request tell us who the shopper is."""
    scope = _scope.get()
    if scope is not None:
        scope.request = request


def _line_marker() -> tuple | None:
    """Where in the transaction a line change happened. ``Basket.merge`` is atomic, so the
    line moves of one merge and its final save share the same savepoints; a marker noted
    outside any transaction (no merge can be running) is None."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return None
    return tuple(connection.savepoint_ids)


def _forget_last_line_basket() -> None:
    _last_line_basket.set(None)


@never_raises
def lines_changed(basket) -> None:
    if _scope.get() is not None:
        _last_line_basket.set((basket, None))
    else:
        marker = _line_marker()
        _last_line_basket.set(None if marker is None else (basket, marker))
        if marker is not None:
            # Whatever this transaction becomes, the next one starts with no master noted.
            transaction.on_commit(_forget_last_line_basket)
    _note(basket, lines=True)


def _merge_master(slave) -> Any:
    """The basket ``slave`` was merged into: the one whose lines changed last in this same
    merge (this request, or outside a request the same transaction and savepoint)."""
    noted = _last_line_basket.get()
    if noted is None:
        return None
    master, marker = noted
    if master.id == slave.id:
        return None
    if _scope.get() is None and marker != _line_marker():
        return None
    return master


@never_raises
def lines_restored(basket, journey_id: int) -> None:
    """A restore link of journey ``journey_id`` copied its lines into ``basket`` (in another
    browser). A journey this creates is linked to that journey: the same abandoned basket,
    never one of its own; a journey the basket already had stays as it is. Call it after
    the lines are copied (the basket has an id then)."""
    _note(basket, lines=True, restored_from=journey_id)


@never_raises
def vouchers_changed(basket) -> None:
    _note(basket, vouchers=True)


@never_raises
def email_given(basket, email: str, source: str) -> None:
    _note(basket, email=(email, source))


@never_raises
def consent_decided(basket, decision) -> None:
    """A form showed our consent notice; its answer is written with the request's changes."""
    _note(basket, consent=decision)


@never_raises
def ads_consent_given(basket, decision) -> None:
    """The form's ads consent box was ticked; recorded with the address after the request."""
    _note(basket, ads_consent=decision)


@never_raises
def basket_saved(basket, created: bool) -> None:
    """Basket status changes Oscar sends no signal for: merge, freeze, thaw."""
    if created or not _enabled():
        return
    if basket.status == Basket.MERGED:
        master = _merge_master(basket)
        if master is None:
            return
        scope = _scope.get()
        if scope is None:
            _guarded(journeys.merge_baskets, basket.id, master)
        else:
            scope.merges.append((basket.id, master))
    elif basket.status in (Basket.FROZEN, Basket.OPEN):
        frozen = basket.status == Basket.FROZEN
        scope = _scope.get()
        if scope is None:
            _guarded(journeys.record_basket_frozen, basket.id, frozen)
            return
        # Noted: written with the request's other changes, or with the order that may follow
        # the freeze (whose follow-ups put the payment attempt first on the timeline). Only
        # changes are noted: Oscar saving an open basket twice is not two thaws.
        noted = scope.changes_for(basket).frozen
        if not noted or noted[-1][0] != frozen:
            noted.append((frozen, timezone.now()))


@never_raises
def basket_loaded(basket) -> None:
    """Checkout pages send no signal; the basket they load tells us whose step it is."""
    scope = _scope.get()
    if scope is None or basket.id is None:
        return
    if not scope.step_resolved:
        scope.step_resolved = True
        scope.step = _step_for_path(scope.path)
    if scope.step is not None:
        scope.step_baskets[basket.id] = basket


def _step_for_path(path: str) -> CheckoutStep | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return get_adapter().checkout_step_for_url(match.view_name)


@never_raises
def step_reached(basket, step: CheckoutStep) -> None:
    """A checkout signal (not a page) told us the step, e.g. ``pre_payment``."""
    if basket is None or not basket.id or not _enabled():
        return
    scope = _scope.get()
    if scope is None:
        _guarded(journeys.record_step, [basket.id], step)
    else:
        # Signals are explicit; they win over the page the request resolved to.
        if scope.step is None or step > scope.step:
            scope.step, scope.step_resolved = step, True
        scope.step_baskets[basket.id] = basket


@never_raises
def order_placed(order) -> None:
    """The journey ends at once, in the checkout's transaction; with what this request noted
    of the basket before the order (its freeze, the step reached)."""
    if not _enabled():
        return
    scope = _scope.get()
    frozen_at, step = None, None
    if scope is not None and order.basket_id:
        scope.ordered.add(order.basket_id)
        change = scope.changes.get(order.basket_id)
        if change is not None and change.frozen and change.frozen[-1][0]:
            frozen_at = change.frozen[-1][1]
        if order.basket_id in scope.step_baskets:
            step = scope.step
    _guarded(journeys.end_with_order, order, frozen_at=frozen_at, step=step)


# -- public API ---------------------------------------------------------------------------


def capture_email(
    request: HttpRequest, email: str, source: str = EmailSource.CAPTURED
) -> CartJourney:
    """Attach an email the shopper gave us on site to their cart journey, making it
    recoverable. Creates the (empty) basket and its journey when the shopper has none yet, so
    nothing they gave is lost. The address is stored canonical; raises ``ValidationError``
    (with the shopper's reason) for one that cannot be. Returns the journey.
    """
    try:
        email = canonical_email(email)
    except InvalidAddress as exc:
        raise ValidationError(exc.message, code="invalid") from None
    basket = request.basket
    if not basket.id:
        basket.save()  # Oscar's middleware then gives the guest its basket cookie
    scope = CaptureScope(request=request)
    journeys.save_basket(
        basket,
        snapshot=take_snapshot(basket),
        vouchers=None,
        shopper=scope.shopper(basket),
        email=(email, source),
        viewed=scope.viewed(),
    )
    return CartJourney.objects.get(basket_id=basket.id)
