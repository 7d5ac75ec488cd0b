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
    #: Captured on site (prompts, forms) through ``oscar_recovery.capture.scope.capture_email``.
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
    CONSENT_RECORDED = "consent_recorded", _("Consent to reminders given or refused")


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Hard bounce")
    COMPLAINED = "complained", _("Spam complaint")
    ERASED = "erased", _("Data erased on request")
    STAFF = "staff", _("Added by staff")
    DECLINED = "declined", _("Said no thanks to reminders")


class CampaignTrigger(models.TextChoices):
    #: Any basket with lines that went quiet.
    BASKET_ABANDONED = "basket_abandoned", _("Basket abandoned")
    #: Only baskets whose shopper got past the checkout email step.
    CHECKOUT_ABANDONED = "checkout_abandoned", _("Checkout abandoned after the email step")
    #: An identified shopper viewed products, added nothing to a basket and went quiet.
    BROWSE_ABANDONED = "browse_abandoned", _("Browsing abandoned (viewed, added nothing)")


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
    #: Lawful basis ``consent``: no consent recorded for this shopper.
    NO_CONSENT = "no_consent", _("No recorded consent (lawful basis: consent)")
    #: The shopper said "no thanks" to reminders where their email was captured.
    CONSENT_REFUSED = "consent_refused", _("The shopper said no thanks to reminders")
    #: Lawful basis ``soft_opt_in``: captured outside checkout without the notice shown.
    NO_NOTICE = "no_notice", _("Captured on site without the soft opt-in notice")
    #: Browse abandonment: the shopper started a basket, whose own journey takes over.
    BASKET_STARTED = "basket_started", _("The shopper started a basket since browsing")
    NOTHING_VIEWED = "nothing_viewed", _("Nothing viewed is still for sale")
    #: Lawful basis ``consent`` with double opt-in: the address has not confirmed yet.
    UNCONFIRMED = "unconfirmed", _("Consent not yet confirmed by email (double opt-in)")
    #: Nobody has shown the address to be theirs (no account, past order, confirmation or
    #: click on one of our emails): only the first message of a sequence may go to it.
    UNVERIFIED = "unverified", _("Address not verified: only the first reminder may go to it")


# -- Privacy: lawful basis and consent -----------------------------------------------------


class LawfulBasis(models.TextChoices):
    """Why the shop may send a recovery email at all; ``OSCAR_RECOVERY_LAWFUL_BASIS``."""

    #: Told at capture that a reminder may follow, with an opt-out there and in every email
    #: (UK PECR soft opt-in). Emails captured outside checkout need the notice recorded.
    SOFT_OPT_IN = "soft_opt_in", _("Soft opt-in (notice and opt-out at capture)")
    #: No email without a recorded, unticked-by-default consent (Germany, France, ...).
    CONSENT = "consent", _("Prior consent")
    #: Email allowed, every opt-out honoured (US CAN-SPAM).
    US_CANSPAM = "us_canspam", _("CAN-SPAM (opt-out)")


class ConsentSource(models.TextChoices):
    """Where the shopper saw the consent text and decided."""

    CHECKOUT = "checkout", _("Checkout gateway")
    PROMPT = "prompt", _("On-site prompt")
    ACCOUNT = "account", _("Customer account")
    STAFF = "staff", _("Recorded by staff")
    #: Double opt-in: confirmed with the signed link emailed to the address.
    CONFIRMED = "confirmed", _("Confirmed by email (double opt-in)")
    OTHER = "other", _("Other")
    #: The unsubscribe link (or List-Unsubscribe) of one of our messages.
    UNSUBSCRIBE_LINK = "unsubscribe", _("Unsubscribe link")
    #: A bounce or complaint the ESP (or SMS provider) reported.
    PROVIDER = "provider", _("Reported by the email or SMS provider")
    #: Two contacts merged: the most restrictive consent of either side won.
    MERGE = "merge", _("Contacts merged")
    #: A data-erasure request.
    ERASURE = "erasure", _("Data erased on request")


class ConfirmationStatus(models.TextChoices):
    """Where a double opt-in confirmation email is (see ``privacy/confirmation.py``)."""

    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


class WebhookEvent(models.TextChoices):
    """Events outgoing webhooks announce; the value is the payload's ``type``."""

    BASKET_ABANDONED = "basket.abandoned", _("Basket abandoned")
    CONTACT_CAPTURED = "contact.captured", _("Contact captured")
    EMAIL_SENT = "email.sent", _("Recovery email sent")
    BASKET_RECOVERED = "basket.recovered", _("Basket recovered")
    UNSUBSCRIBED = "contact.unsubscribed", _("Unsubscribed")
    #: Sent only by the admin's "send test" action, to every endpoint it is used on.
    TEST = "test", _("Test")


class SignatureFormat(models.TextChoices):
    """How an endpoint's requests are signed (documentation: how-to "Outgoing webhooks")."""

    #: Standard Webhooks (standardwebhooks.com): ``webhook-id``, ``webhook-timestamp`` and
    #: ``webhook-signature``, verified by any library that implements the spec.
    STANDARD = "standard", _("Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)")
    #: This app's own header, ``X-Recovery-Signature: t=<unix seconds>,v1=<hex>``: what
    #: endpoints created before Standard Webhooks keep.
    RECOVERY = "recovery", _("X-Recovery-Signature (this app's earlier scheme)")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    #: A transient failure (network, 5xx, 429); another attempt is scheduled.
    RETRYING = "retrying", _("Retrying")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class AttemptOutcome(models.TextChoices):
    SUCCESS = "success", _("Success (2xx)")
    TRANSIENT = "transient", _("Transient failure (network error, 5xx, 408, 429)")
    PERMANENT = "permanent", _("Permanent failure (other status)")


# -- Recommendations and browse abandonment ------------------------------------------------


class RecommendationReason(models.TextChoices):
    """Why a product was recommended: stored nowhere, shown in email previews and the
    dashboard. The values are stable names other code and templates may rely on."""

    BOUGHT_TOGETHER = "bought_together", _("Often bought together")
    CURATED = "curated", _("Recommended by the shop")
    VIEWED = "viewed", _("Viewed but not bought")
    CATEGORY_BESTSELLER = "category_bestseller", _("Bestseller in the same category")
    BESTSELLER = "bestseller", _("Bestseller")
    FREE_SHIPPING = "free_shipping", _("Closes the free-shipping gap")


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


# -- Contacts: one record per person ---------------------------------------------------------


class ContactStatus(models.TextChoices):
    """Whether a contact is the live record of its person."""

    ACTIVE = "active", _("Active")
    #: Merged into another contact (``merged_into``), which carries everything now.
    MERGED = "merged", _("Merged")
    #: Erased on request: the row remains without any personal data.
    ERASED = "erased", _("Erased")


class IdentifierKind(models.TextChoices):
    """What links a shopper's visits, baskets and messages to their contact."""

    #: The app's visitor cookie (one browser).
    VISITOR = "visitor", _("Browser (visitor cookie)")
    #: A customer account (the user's primary key).
    USER = "user", _("Customer account")
    #: A canonical email address.
    EMAIL = "email", _("Email address")
    #: A phone number in E.164.
    PHONE = "phone", _("Phone number")


class MergeReason(models.TextChoices):
    """Why two contacts turned out to be one person."""

    LOGIN = "login", _("Logged in")
    SIGNUP = "signup", _("Created an account with the address")
    CHECKOUT_EMAIL = "checkout_email", _("Gave the address at checkout")
    STAFF = "staff", _("Merged by staff")


class Channel(models.TextChoices):
    """A way of reaching a person; each asks for its own consent."""

    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WEB_PUSH = "web_push", _("Web push")
    #: Retargeting audiences (hashed uploads to ad platforms).
    ADS = "ads", _("Advertising audiences")


class AudienceDestination(models.TextChoices):
    """Where a retargeting audience goes."""

    CSV = "csv", _("CSV download")
    META = "meta", _("Meta Custom Audiences")
    GOOGLE = "google", _("Google Customer Match")

    @classmethod
    def platforms(cls) -> tuple[str, ...]:
        """The destinations synced through a platform's API."""
        return (cls.META.value, cls.GOOGLE.value)


class AudienceSyncState(models.TextChoices):
    """What a platform was last told about one member."""

    NONE = "none", _("Never sent")
    ADDED = "added", _("Added")
    REMOVED = "removed", _("Removed")


class AudienceSyncStatus(models.TextChoices):
    """How an audience's last sync went."""

    NEVER = "never", _("Never synced")
    OK = "ok", _("Synced")
    FAILED = "failed", _("Failed, will retry")
    HELD = "held", _("Failed, needs attention")


class ConsentAction(models.TextChoices):
    """One entry of the consent ledger (``ConsentEvent``): what happened to a consent."""

    GIVEN = "given", _("Given")
    CONFIRMED = "confirmed", _("Confirmed")
    #: The person said no (a "no thanks" at capture): lifted only by a verified consent.
    WITHDRAWN = "withdrawn", _("Withdrawn")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Bounced")
    COMPLAINED = "complained", _("Complained")
    #: An SMS STOP (or the provider's opt-out).
    STOP = "stop", _("STOP received")
    ERASED = "erased", _("Erased")

    @classmethod
    def final(cls) -> tuple[str, ...]:
        """Actions no later consent lifts: the address is never written to again."""
        return (cls.UNSUBSCRIBED, cls.BOUNCED, cls.COMPLAINED, cls.STOP, cls.ERASED)


class ConsentStatus(models.TextChoices):
    """A consent's current state, derived from its ledger (``privacy.ledger.state``)."""

    UNKNOWN = "unknown", _("Never asked")
    #: Given where anyone could have typed the address: speaks for its own journey only.
    GIVEN = "given", _("Given, not verified")
    #: Confirmed from the mailbox (or number), or recorded by staff: speaks for the address.
    CONFIRMED = "confirmed", _("Confirmed")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    #: Unsubscribed, bounced, complained, STOP or erased: for good.
    SUPPRESSED = "suppressed", _("Never contact again")


class SegmentKind(models.TextChoices):
    """A segment shipped with the app (its rule fixed, its numbers the owner's) or one the
    owner defines from contacts' facts."""

    BUILTIN = "builtin", _("Built in")
    CUSTOM = "custom", _("Custom")


class SegmentRule(models.TextChoices):
    """What a built-in segment selects (:mod:`oscar_recovery.segments.builtins`)."""

    CUSTOM = "custom", _("Custom definition")
    NEW_VISITORS = "new_visitors", _("New visitors")
    RETURNING_VISITORS = "returning_visitors", _("Returning visitors")
    NEW_CUSTOMERS = "new_customers", _("New customers (no order yet)")
    RETURNING_CUSTOMERS = "returning_customers", _("Returning customers (at least one order)")
    FIRST_TIME_BUYERS = "first_time_buyers", _("First-time buyers")
    RECENT_BUYERS = "recent_buyers", _("Recent buyers")
    LAPSED_CUSTOMERS = "lapsed_customers", _("Lapsed customers")
    VALUE_LOW = "value_low", _("Low lifetime value")
    VALUE_MEDIUM = "value_medium", _("Medium lifetime value")
    VALUE_HIGH = "value_high", _("High lifetime value")
    ABANDONED_BASKET = "abandoned_basket", _("Abandoned a basket without ordering")
    BROWSED_NOT_BOUGHT = "browsed_not_bought", _("Browsed without buying")


class AmountBasis(models.TextChoices):
    """Which order value a segment's amount is compared with."""

    LAST_ORDER = "last_order", _("The last order's total")
    LIFETIME = "lifetime", _("The lifetime total of all orders")
