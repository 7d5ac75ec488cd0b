"""The two JSON endpoints of on-site prompts. Thin: the rules live in :mod:`.service` and
:mod:`.eligibility`.

Both are POST-only, protected by Django's CSRF check (the page sends the token of its
config as ``X-CSRFToken``), rate-limited per client address, and answer bad input with a
400 that says what is wrong. Requests from bots are answered 204 and not recorded.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone, translation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from oscar_recovery import ratelimit
from oscar_recovery.adapter import get_adapter
from oscar_recovery.campaigns.variants import CONTROL_LABEL
from oscar_recovery.capture.visitor import ensure_visitor_cookie
from oscar_recovery.constants import PromptEventKind, PromptKind
from oscar_recovery.models import Prompt
from oscar_recovery.prompts import app_settings as prompt_settings
from oscar_recovery.prompts import service, state
from oscar_recovery.prompts import targeting as eligibility
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

#: No legitimate request is larger; a bigger one is refused before it is parsed.
MAX_BODY = 4096
#: Events the page may report. "submitted" is recorded by the capture endpoint itself, so
#: a page reporting it too is accepted and ignored; "offer_used" and "converted" only ever
#: come from the shop.
PAGE_EVENTS = (*PromptEventKind.page_kinds(), PromptEventKind.SUBMITTED)


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check, answering with the reason instead of its HTML page, so the
    script gets a JSON 403 it can act on."""

    def _reject(self, request, reason):
        return reason


def csrf_failure(request: HttpRequest) -> str | None:
    """Why the request fails Django's CSRF check, or None when it passes."""
    check = _CsrfCheck(lambda request: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


class BadRequest(Exception):
    def __init__(self, errors: dict[str, list[str]], status: int = 400):
        super().__init__(errors)
        self.errors = errors
        self.status = status


def _too_large() -> BadRequest:
    return BadRequest({"__all__": [gettext("The request is too large.")]}, status=413)


# Exempt from the middleware only to run the same check here and answer in JSON.
@method_decorator([csrf_exempt, never_cache], name="dispatch")
class PromptEndpoint(View):
    http_method_names = ["post", "options"]
    rate_scope = ""

    def rate_limit(self) -> tuple[int, Any]:
        raise NotImplementedError

    def post(self, request: HttpRequest) -> HttpResponse:
        reason = csrf_failure(request)
        if reason is not None:
            return JsonResponse(
                {
                    "error": gettext("Your session has expired. Please reload the page."),
                    "reason": reason,
                },
                status=403,
            )
        retry_after = ratelimit.hit_client(self.rate_scope, request, self.rate_limit())
        if retry_after is not None:
            response = JsonResponse(
                {"error": gettext("Too many requests. Please try again later.")}, status=429
            )
            response["Retry-After"] = str(retry_after)
            return response
        if get_adapter().is_bot(request.META.get("HTTP_USER_AGENT", "")):
            return HttpResponse(status=204)
        try:
            payload = self.parse(request)
            language = self.language_from(payload) or translation.get_language()
            with translation.override(language):
                return self.handle(request, payload)
        except BadRequest as exc:
            return self.bad_request(exc.errors, exc.status)
        except Exception:
            # The page's script shows a message either way; it needs JSON, not a 500 page.
            logger.exception("oscar_recovery: prompt endpoint %s failed", request.path)
            return JsonResponse(
                {"error": gettext("Something went wrong. Please try again later.")}, status=500
            )

    def bad_request(self, errors: dict[str, list[str]], status: int = 400) -> JsonResponse:
        return JsonResponse(
            {"error": next(iter(errors.values()))[0], "errors": errors}, status=status
        )

    def parse(self, request: HttpRequest) -> dict:
        """The body as a JSON object, or :class:`BadRequest`: 413 for a body over
        :data:`MAX_BODY` (refused by its declared length before it is read; one without a
        length is read at most up to Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``), 400 for
        anything that is not a JSON object, nesting too deep for the parser included."""
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_BODY:
            raise _too_large()
        try:
            body = request.body
        except RequestDataTooBig:
            raise _too_large() from None
        if len(body) > MAX_BODY:
            raise _too_large()
        try:
            payload = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError):
            # RecursionError: "[[[[..." nested deeper than the parser's stack.
            raise BadRequest({"__all__": [gettext("The request is not valid JSON.")]}) from None
        if not isinstance(payload, dict):
            raise BadRequest({"__all__": [gettext("Send a JSON object.")]})
        return payload

    def handle(self, request: HttpRequest, payload: dict) -> HttpResponse:
        raise NotImplementedError

    # Shared field checks

    @staticmethod
    def language_from(payload: dict) -> str | None:
        """The language the page showed the prompt in (the script sends it), or None: the
        prompt's text, the consent wording recorded and the answer are in that language,
        whatever language this request itself would get (the endpoint's URL carries no
        language prefix, and the browser's Accept-Language may differ from the page's).
        Only one of the shop's ``LANGUAGES``; anything else is ignored."""
        value = payload.get("language")
        if not isinstance(value, str) or not value or len(value) > 20:
            return None
        try:
            return translation.get_supported_language_variant(value)
        except LookupError:
            return None

    @staticmethod
    def prompt_from(payload: dict) -> Prompt:
        value = payload.get("prompt")
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadRequest({"prompt": [gettext("Give the prompt's id as a number.")]})
        prompt = next((p for p in eligibility.active_prompts() if p.pk == value), None)
        if prompt is None:
            raise BadRequest({"prompt": [gettext("Unknown or inactive prompt.")]})
        return prompt

    @staticmethod
    def content_from(prompt: Prompt, payload: dict) -> eligibility.PromptContent:
        label = payload.get("variant", CONTROL_LABEL)
        content = eligibility.content_by_label(prompt, label) if isinstance(label, str) else None
        if content is None:
            raise BadRequest({"variant": [gettext("Unknown variant.")]})
        return content

    @staticmethod
    def visit_from(request: HttpRequest, payload: dict) -> str:
        visit = payload.get("visit")
        if visit is None:
            return state.read_visit_id(request.COOKIES) or state.new_visit_id()
        if not state.is_visit_id(visit):
            raise BadRequest({"visit": [gettext("Unknown visit id.")]})
        return visit

    @staticmethod
    def records(request: HttpRequest) -> bool:
        """Staff try their prompts out; their events would skew the statistics."""
        user = getattr(request, "user", None)
        return not (user is not None and user.is_authenticated and user.is_staff)


class PromptEventView(PromptEndpoint):
    """``POST {"prompt": 12, "variant": "A", "event": "shown", "visit": "…"}`` -> 204."""

    rate_scope = "prompt-events"

    def rate_limit(self):
        return prompt_settings.EVENTS_RATE_LIMIT

    def handle(self, request: HttpRequest, payload: dict) -> HttpResponse:
        kind = payload.get("event")
        if kind not in PAGE_EVENTS:
            raise BadRequest(
                {"event": [gettext("Unknown event; use one of: %s.") % ", ".join(PAGE_EVENTS)]}
            )
        prompt = self.prompt_from(payload)
        content = self.content_from(prompt, payload)
        visit_id = self.visit_from(request, payload)
        response = HttpResponse(status=204)
        if kind == PromptEventKind.SUBMITTED or not self.records(request):
            return response
        visitor_id = ensure_visitor_cookie(request, response)
        service.record_event(prompt, content.label, kind, visitor_id=visitor_id, visit_id=visit_id)
        caps = state.read_caps(request.COOKIES)
        if kind == PromptEventKind.SHOWN and prompt.kind != PromptKind.GUEST_CHECKOUT:
            caps.shown_visit = visit_id
        elif kind == PromptEventKind.DISMISSED:
            caps.dismiss(prompt.pk, prompt.quiet_days_after_dismissal, timezone.now())
        state.write_caps(request, response, caps)
        state.write_visit(request, response, visit_id)
        return response


class PromptCaptureView(PromptEndpoint):
    """``POST {"prompt": 12, "variant": "A", "email": "…", "consent": true, "visit": "…"}``
    -> 200 ``{"message": "…", "voucher": "CODE" | null}``.

    Without ``prompt`` and with ``"live": true`` it is the live capture of the checkout
    email, accepted only while that switch is on and the lawful basis allows it.
    """

    rate_scope = "prompt-capture"

    def rate_limit(self):
        return prompt_settings.CAPTURE_RATE_LIMIT

    def handle(self, request: HttpRequest, payload: dict) -> HttpResponse:
        if payload.get("live") is True and "prompt" not in payload:
            return self.live_capture(request, payload)
        prompt = self.prompt_from(payload)
        content = self.content_from(prompt, payload)
        # The prompt showed whole in one language (maybe not the page's): the answer and
        # the consent record are in that one.
        with translation.override(content.language):
            return self.capture(request, payload, prompt, content)

    def capture(self, request, payload, prompt, content) -> HttpResponse:
        visit_id = self.visit_from(request, payload)
        if not eligibility.asks_email(prompt):
            raise BadRequest({"prompt": [gettext("This prompt does not ask for an email.")]})
        try:
            email = service.validate_capture(
                prompt, content, payload.get("email"), payload.get("consent", False)
            )
        except ValidationError as exc:
            raise BadRequest(exc.message_dict) from None
        response = JsonResponse({})
        # The journey and the events name the browser: a first-time visitor gets its cookie.
        visitor_id = ensure_visitor_cookie(request, response)
        captured = service.capture_from_prompt(
            request,
            prompt,
            content,
            email,
            consent=payload.get("consent", False),
            visitor_id=visitor_id,
            visit_id=visit_id,
        )
        response.content = json.dumps(
            {"message": str(captured.message), "voucher": captured.voucher_code}
        ).encode()
        caps = state.read_caps(request.COOKIES)
        caps.captured = True
        state.write_caps(request, response, caps)
        state.write_visit(request, response, visit_id)
        return response

    def live_capture(self, request: HttpRequest, payload: dict) -> HttpResponse:
        if not service.live_capture_allowed():
            raise BadRequest({"live": [gettext("Live capture is switched off.")]})
        try:
            service.capture_live(request, payload.get("email"))
        except ValidationError as exc:
            raise BadRequest(exc.message_dict) from None
        return JsonResponse({"message": "", "voucher": None})
