"""Names shared by models, code, admin and docs."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class JourneyStatus(models.TextChoices):
    #: The shopper is (or may still be) shopping.
    ACTIVE = "active", _("Active")
    #: No activity for ``OSCAR_RECOVERY_ABANDON_AFTER``: a candidate for recovery.
    ABANDONED = "abandoned", _("Abandoned")
    #: Ended in an order after the shopper clicked a recovery link (attributed).
    RECOVERED = "recovered", _("Recovered")
    #: Ended in an order without a recovery click: the shopper came back on their own.
    CONVERTED = "converted", _("Converted")
    #: Abandoned for longer than ``OSCAR_RECOVERY_EXPIRE_AFTER``: no longer pursued.
    EXPIRED = "expired", _("Expired")
    #: A guest basket merged into another journey on login; see ``merged_into``.
    MERGED = "merged", _("Merged")

    @classmethod
    def open_statuses(cls) -> tuple[str, ...]:
        """Statuses a journey can leave again through shopper activity."""
        return (cls.ACTIVE, cls.ABANDONED, cls.EXPIRED)

    @classmethod
    def ended_statuses(cls) -> tuple[str, ...]:
        return (cls.RECOVERED, cls.CONVERTED, cls.MERGED)


class CheckoutStep(models.IntegerChoices):
    """How far through checkout a journey got; ordered, so ``>=`` means "reached"."""

    BASKET = 10, _("Basket")
    GATEWAY = 20, _("Checkout gateway / email")
    SHIPPING_ADDRESS = 30, _("Shipping address")
    SHIPPING_METHOD = 40, _("Shipping method")
    PAYMENT = 50, _("Payment")
    PREVIEW = 60, _("Order preview")

    @property
    def slug(self) -> str:
        return self.name.lower()

    @classmethod
    def from_slug(cls, slug: str) -> "CheckoutStep":
        return cls[slug.upper()]

    @property
    def reached_at_field(self) -> str:
        """Name of the journey field holding when this step was first reached."""
        return f"{self.slug}_reached_at"


class EmailSource(models.TextChoices):
    #: The logged-in shopper's account email.
    ACCOUNT = "account", _("Customer account")
    #: Given as a guest at Oscar's checkout gateway (``start_checkout``).
    CHECKOUT = "checkout", _("Checkout gateway")
    #: Captured on site (prompts, forms) through ``oscar_recovery.capture.capture_email``.
    CAPTURED = "captured", _("Captured on site")
    #: Taken from the order placed for the basket.
    ORDER = "order", _("Order")


class JourneyEventKind(models.TextChoices):
    """Entries of a journey's timeline that its timestamps alone cannot tell."""

    EMAIL_CAPTURED = "email_captured", _("Email captured")
    MERGED_IN = "merged_in", _("Guest basket merged in")
    MOVED_ON_LOGIN = "moved_on_login", _("Continued after login")
    BASKET_FROZEN = "basket_frozen", _("Payment submitted (basket frozen)")
    BASKET_THAWED = "basket_thawed", _("Payment failed (basket thawed)")
    ABANDONED = "abandoned", _("Abandoned")
    EXPIRED = "expired", _("Expired")
    RESTORED = "restored", _("Basket restored from a recovery email")
    ORDER_PLACED = "order_placed", _("Order placed")


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Hard bounce")
    COMPLAINED = "complained", _("Spam complaint")
    ERASED = "erased", _("Data erased on request")
    STAFF = "staff", _("Added by staff")


class CampaignTrigger(models.TextChoices):
    #: Any basket with lines that went quiet.
    BASKET_ABANDONED = "basket_abandoned", _("Basket abandoned")
    #: Only baskets whose shopper got past the checkout email step.
    CHECKOUT_ABANDONED = "checkout_abandoned", _("Checkout abandoned after the email step")


class CustomerType(models.TextChoices):
    ANY = "any", _("Any customer")
    NEW = "new", _("New customers (no earlier order)")
    RETURNING = "returning", _("Returning customers")


class ValueTier(models.TextChoices):
    """Customer lifetime value tiers; thresholds are ``OSCAR_RECOVERY_VALUE_TIERS``."""

    ANY = "any", _("Any value")
    LOW = "low", _("Low lifetime value")
    MEDIUM = "medium", _("Medium lifetime value")
    HIGH = "high", _("High lifetime value")


class Incentive(models.TextChoices):
    NONE = "none", _("No incentive")
    PERCENTAGE = "percentage", _("Percentage off")
    FIXED = "fixed", _("Fixed amount off")
    FREE_SHIPPING = "free_shipping", _("Free shipping")


class EnrolmentStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    COMPLETED = "completed", _("Completed")
    STOPPED = "stopped", _("Stopped")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    OPENED = "opened", _("Opened")
    CLICKED = "clicked", _("Clicked")
    BOUNCED = "bounced", _("Bounced")
    COMPLAINED = "complained", _("Complained")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class SkipReason(models.TextChoices):
    """Why a due message was not sent; recorded on the message."""

    ORDER_PLACED = "order_placed", _("An order was placed since the journey began")
    JOURNEY_ENDED = "journey_ended", _("The journey has ended")
    NO_EMAIL = "no_email", _("No email address")
    SUPPRESSED = "suppressed", _("Address unsubscribed, bounced or complained")
    BOT = "bot", _("Bot")
    STAFF = "staff", _("Staff")
    BASKET_EMPTY = "basket_empty", _("Nothing left in the basket that can be bought")
    COOLDOWN = "cooldown", _("Another recovery email went to this address recently")
    NEWER_JOURNEY = "newer_journey", _("A newer journey exists for this address")
    ENROLMENT_STOPPED = "enrolment_stopped", _("Enrolment paused or stopped")
    #: Not a failure: holdout journeys are tracked step by step but never emailed.
    HOLDOUT = "holdout", _("Holdout (measures lift, never emailed)")


# -- on-site prompts ----------------------------------------------------------------------


class PromptKind(models.TextChoices):
    #: A modal dialog when the pointer leaves through the top of the window (desktop).
    EXIT_INTENT = "exit_intent", _("Exit intent")
    #: A modal dialog after a delay or scroll depth, asking for an email.
    EMAIL_CAPTURE = "email_capture", _("Email capture")
    #: A banner on the checkout gateway: no account needed, continue as a guest.
    GUEST_CHECKOUT = "guest_checkout", _("Guest checkout")
    #: A non-modal banner bringing back the basket or recently viewed items.
    RETURNING_BANNER = "returning_banner", _("Returning visitor reminder")

    @classmethod
    def modal_kinds(cls) -> tuple[str, ...]:
        return (cls.EXIT_INTENT, cls.EMAIL_CAPTURE)


class VisitorType(models.TextChoices):
    ANY = "any", _("Any visitor")
    NEW = "new", _("New visitors")
    RETURNING = "returning", _("Returning visitors")


class LoginState(models.TextChoices):
    ANY = "any", _("Guests and logged-in customers")
    GUEST = "guest", _("Guests only")
    LOGGED_IN = "logged_in", _("Logged-in customers only")


class DeviceClass(models.TextChoices):
    ANY = "any", _("Any device")
    DESKTOP = "desktop", _("Desktop")
    MOBILE = "mobile", _("Mobile phone")
    TABLET = "tablet", _("Tablet")


class PromptEventKind(models.TextChoices):
    """What happened to a prompt; the first four come from the page, the rest from the shop."""

    SHOWN = "shown", _("Shown")
    DISMISSED = "dismissed", _("Dismissed")
    SUBMITTED = "submitted", _("Email submitted")
    CTA = "cta", _("Call to action clicked")
    OFFER_USED = "offer_used", _("Offer used")
    CONVERTED = "converted", _("Converted (order placed)")

    @classmethod
    def page_kinds(cls) -> tuple[str, ...]:
        """Events the page may report; the others are recorded by the shop itself."""
        return (cls.SHOWN, cls.DISMISSED, cls.CTA)
