"""The customisation seam: point ``OSCAR_RECOVERY_ADAPTER`` at a subclass of
:class:`RecoveryAdapter` and override the methods you need."""

from __future__ import annotations

import ipaddress
import re
import uuid
from decimal import Decimal
from urllib.parse import urljoin

from crawlerdetect import CrawlerDetect
from django.contrib.auth import get_user_model
from django.contrib.sites.models import Site
from django.http import HttpRequest
from django.utils import translation
from django.utils.module_loading import import_string

from oscar_recovery import app_settings
from oscar_recovery.constants import CheckoutStep, DeviceClass
from oscar_recovery.recommendations.service import load_public_products, recommend
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)
_crawler_detect = CrawlerDetect()
# Good enough to choose between a modal and a banner.
_TABLET = re.compile(r"iPad|Tablet|PlayBook|Silk|Kindle|(Android(?!.*Mobile))", re.I)
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Android.*Mobile|Windows Phone|Opera Mini", re.I)

#: What a staff user needs to get staff alerts by default: reading baskets in the admin.
ALERT_PERMISSION = "oscar_recovery.view_cartjourney"


class RecoveryAdapter:
    def is_bot(self, user_agent: str) -> bool:
        """Whether a user agent belongs to a crawler or script. Bots are recorded but never
        contacted. An empty user agent counts as a bot: every browser sends one."""
        if not user_agent.strip():
            return True
        return bool(_crawler_detect.isCrawler(user_agent))

    def get_language(self, request: HttpRequest | None) -> str:
        """The shopper's language, used for everything we send them."""
        if request is not None and getattr(request, "LANGUAGE_CODE", None):
            return request.LANGUAGE_CODE
        return translation.get_language() or ""

    def client_address(self, request: HttpRequest) -> str:
        """The address of the client behind ``request``, which rate limits count by.

        ``REMOTE_ADDR``, unless it is one of ``OSCAR_RECOVERY_TRUSTED_PROXIES``: then the
        ``X-Forwarded-For`` chain is read from the right (the entries the shop's proxies
        appended) and the first address that is not a trusted proxy is the client. Entries
        further left were written by the client and are never believed. A port a proxy
        writes (``ip:port``, ``[v6]:port``) is dropped: it names the connection, not the
        client, and kept it would give every client its own bucket per connection, or, for
        a trusted proxy not recognised as one, put every client in the proxy's. Override for
        a proxy that reports the client differently (``Forwarded``, ``CF-Connecting-IP``)."""
        remote = request.META.get("REMOTE_ADDR", "")
        trusted = _networks(app_settings.TRUSTED_PROXIES)
        if not trusted or not _in_networks(remote, trusted):
            return remote
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [without_port(hop) for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not _in_networks(hop, trusted):
                return hop
        return hops[0] if hops else remote

    def new_visitor_id(self) -> str:
        return uuid.uuid4().hex

    def checkout_step_for_url(self, url_name: str) -> CheckoutStep | None:
        """Which checkout step a resolved URL name (``namespace:name``) represents."""
        slug = app_settings.CHECKOUT_STEPS.get(url_name)
        return CheckoutStep.from_slug(slug) if slug else None

    # Emails

    def site_url(self) -> str:
        """Scheme and host that links in emails start with."""
        configured = app_settings.SITE_URL
        if configured:
            return configured.rstrip("/")
        return f"https://{Site.objects.get_current().domain}"

    def absolute_url(self, path: str) -> str:
        return urljoin(self.site_url() + "/", path)

    def free_shipping_threshold(self, journey) -> Decimal | None:
        """Basket total from which this shopper's delivery is free, or None. Shops whose
        threshold depends on the destination or the customer override this."""
        threshold = app_settings.FREE_SHIPPING_THRESHOLD
        return None if threshold is None else Decimal(str(threshold))

    def recommendations(
        self,
        journey,
        product_ids: list[int],
        limit: int,
        *,
        gap: Decimal | None = None,
        exclude: list[int] | tuple = (),
        strategy=None,
    ) -> list:
        """Products to suggest alongside ``product_ids`` (the journey's lines, or for a
        browse journey what was viewed), best first, each with its reason: a list of
        :class:`oscar_recovery.recommendations.service.Recommendation`. Override to plug in
        another recommender."""
        return recommend(
            product_ids,
            limit=limit,
            user=journey.user if journey.user_id else None,
            email=journey.email,
            viewed=journey.viewed,
            exclude=exclude,
            gap=gap,
            strategy=strategy,
            loader=self.load_products,
        )

    def load_products(self, ids) -> dict:
        """Public products by id, with what pricing and images need loaded up front
        (:func:`oscar_recovery.recommendations.service.load_public_products`). Override to
        show other products, or load them differently."""
        return load_public_products(ids)

    def product_image_url(self, product) -> str:
        """An absolute URL of a small image of the product for emails, or "". Email
        clients download every image, so a thumbnail rather than the original upload."""
        image = product.primary_image()
        if isinstance(image, dict):  # Oscar's stand-in for a product without images
            return ""
        try:
            from oscar.core.thumbnails import get_thumbnailer

            thumbnail = get_thumbnailer().generate_thumbnail(
                image.original, size="160x160", upscale=False
            )
            return self.absolute_url(thumbnail.url)
        except Exception:  # a missing file or thumbnail backend must not stop the email
            logger.warning("No thumbnail for product %s", product.pk, exc_info=True)
            return self.absolute_url(image.original.url)

    # Staff

    def staff_journey_url(self, journey) -> str:
        """Absolute URL where staff see a journey, linked from alerts and webhook payloads.
        The default is its Django admin page; raises ``NoReverseMatch`` without the admin."""
        from django.urls import reverse

        return self.absolute_url(
            reverse("admin:oscar_recovery_cartjourney_change", args=[journey.pk])
        )

    def staff_overview_url(self) -> str:
        """Absolute URL of the staff's overview of recovery, linked from the weekly summary."""
        from django.urls import reverse

        return self.absolute_url(reverse("admin:oscar_recovery_cartjourney_changelist"))

    def staff_alert_recipients(self) -> list[str]:
        """Who gets staff alerts and the weekly summary: ``OSCAR_RECOVERY_ALERT_RECIPIENTS``,
        else every active staff user with an email address who may read baskets in the
        admin (:data:`ALERT_PERMISSION`): alerts name the shopper and list the basket, which
        ``is_staff`` alone (Oscar gives it to clerks who only handle orders) does not allow.
        Asked through ``has_perm``, so groups and the shop's auth backends count."""
        configured = app_settings.ALERT_RECIPIENTS
        if configured is not None:
            return list(configured)
        staff = (
            get_user_model()
            .objects.filter(is_staff=True, is_active=True)
            .exclude(email="")
            .order_by("email")
        )
        emails = (user.email for user in staff if user.has_perm(ALERT_PERMISSION))
        return list(dict.fromkeys(emails))

    # Privacy

    def has_prior_consent(self, journey) -> bool:
        """Whether the shop holds this shopper's consent to reminder emails itself (say a
        marketing opt-in on the account), for ``OSCAR_RECOVERY_LAWFUL_BASIS = "consent"``.
        The default trusts only consent recorded through :mod:`oscar_recovery.consent`."""
        return False

    def export_personal_data(self, email: str) -> dict:
        """Extra data the shop keeps about ``email`` alongside recovery, merged into
        :func:`oscar_recovery.privacy.data_rights.export_email` under ``"shop"``."""
        return {}

    def erase_personal_data(self, email: str) -> None:
        """Erase the shop's own extra data about ``email``; called inside
        :func:`oscar_recovery.privacy.data_rights.erase_email`'s transaction."""

    # On-site prompts

    def device_class(self, user_agent: str) -> str:
        """``desktop``, ``mobile`` or ``tablet`` (:class:`~oscar_recovery.constants.DeviceClass`)
        for a prompt's device rule. The default reads the user agent; shops with client
        hints or a device-detection service override this."""
        if _TABLET.search(user_agent or ""):
            return DeviceClass.TABLET
        if _MOBILE.search(user_agent or ""):
            return DeviceClass.MOBILE
        return DeviceClass.DESKTOP


def _networks(values) -> list:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            logger.warning("OSCAR_RECOVERY_TRUSTED_PROXIES: %r is no address or network", value)
    return networks


def without_port(hop: str) -> str:
    """An ``X-Forwarded-For`` entry as a bare address: ``198.51.100.1:443`` and
    ``[2001:db8::1]:443`` (or ``[2001:db8::1]``) lose the port and brackets; a bare IPv6
    address (several colons) and anything else are returned as they are, stripped."""
    hop = hop.strip()
    if hop.startswith("["):
        host, bracket, _ = hop[1:].partition("]")
        return host if bracket else hop
    if hop.count(":") == 1:
        return hop.partition(":")[0]
    return hop


def _in_networks(address: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def get_adapter() -> RecoveryAdapter:
    return import_string(app_settings.ADAPTER)()
