"""A strict Content-Security-Policy for the sandbox (and the browser tests), on Django 5.2 and 6.

Django 6.0 ships CSP support: ``django.middleware.csp.ContentSecurityPolicyMiddleware``, the
``SECURE_CSP`` setting and the ``csp_nonce`` template variable. Django 5.2 has none of it, so
this module provides the same three pieces with the same semantics (the nonce is generated
only when a template uses it; a header a view set itself is kept). Settings are written once:
``MIDDLEWARE_PATH`` and ``CONTEXT_PROCESSOR_PATH`` name Django's own where it has them.

The policy (``STRICT_POLICY``) allows nothing inline and nothing from elsewhere. Oscar's stock
templates need exceptions, each as narrow as CSP can make it: the inline ``$(function () {...})``
block of ``oscar/base.html`` (the sandbox's ``oscar/base.html`` gives it the nonce), and a few
``style``/``onclick`` attributes, allowed by their exact hashes in ``style-src-attr`` and
``script-src-attr`` only. The prompts of oscar-recovery need no exception at all.
"""

import base64
import hashlib
import secrets

import django
from django.conf import settings
from django.utils.functional import SimpleLazyObject, empty

try:  # Django >= 6.0
    from django.utils.csp import CSP

    NONCE = CSP.NONCE
except ImportError:
    NONCE = "<CSP_NONCE_SENTINEL>"

HAS_BUILTIN_CSP = django.VERSION >= (6, 0)
MIDDLEWARE_PATH = (
    "django.middleware.csp.ContentSecurityPolicyMiddleware"
    if HAS_BUILTIN_CSP
    else "sandbox.csp.ContentSecurityPolicyMiddleware"
)
CONTEXT_PROCESSOR_PATH = (
    "django.template.context_processors.csp" if HAS_BUILTIN_CSP else "sandbox.csp.csp"
)

# Inline attributes in Oscar's stock shop templates (basket forms hidden until asked for, the
# checkout navigation, the mini-basket button, the thank-you page's print link).
OSCAR_STYLE_ATTRIBUTES = ("display:none", "width: auto;")
OSCAR_EVENT_HANDLERS = ("window.location.href='/basket/';", "window.print()")


def exact_hashes(*sources: str) -> list[str]:
    """CSP sources that allow these inline attribute values and nothing else."""
    digests = (base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in sources)
    return ["'unsafe-hashes'", *(f"'sha256-{digest}'" for digest in digests)]


STRICT_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'", NONCE],
    "script-src-attr": exact_hashes(*OSCAR_EVENT_HANDLERS),
    "style-src": ["'self'"],
    "style-src-attr": exact_hashes(*OSCAR_STYLE_ATTRIBUTES),
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'self'"],
}


class LazyNonce(SimpleLazyObject):
    """A nonce made on first use; false until then, so unused nonces stay out of the header."""

    def __init__(self):
        super().__init__(lambda: secrets.token_urlsafe(16))

    def __bool__(self) -> bool:
        return self._wrapped is not empty


def build_policy(config: dict, nonce=None) -> str:
    directives = []
    for name, values in config.items():
        if values in (None, False):
            continue
        values = [] if values is True else list(values)
        values = [f"'nonce-{nonce}'" if v == NONCE else v for v in values if nonce or v != NONCE]
        directives.append(" ".join([name, *values]))
    return "; ".join(directives)


class ContentSecurityPolicyMiddleware:
    """Django 6's CSP middleware for Django 5.2 (enforced policy only)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request._csp_nonce = LazyNonce()
        response = self.get_response(request)
        config = getattr(settings, "SECURE_CSP", None)
        if config and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = build_policy(config, request._csp_nonce)
        return response


def csp(request) -> dict:
    """Context processor: ``{{ csp_nonce }}`` as on Django 6."""
    return {"csp_nonce": getattr(request, "_csp_nonce", None)}


class DashboardPolicyMiddleware:
    """Oscar's dashboard sizes its charts and widgets with ``style`` attributes, so its pages
    get the strict policy with style attributes allowed (the prompts never show there). Goes
    after the CSP middleware: that one keeps a header a response already has."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/dashboard/") and "Content-Security-Policy" not in response:
            policy = {**settings.SECURE_CSP, "style-src-attr": ["'unsafe-inline'"]}
            nonce = getattr(request, "_csp_nonce", None)
            response["Content-Security-Policy"] = build_policy(policy, nonce)
        return response
