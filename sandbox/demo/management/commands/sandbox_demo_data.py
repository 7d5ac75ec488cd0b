"""Fills the sandbox with a small catalogue, shipping countries and two users.

Idempotent: everything is looked up before it is created, so running it again changes
nothing (and never resets stock levels that orders have used up).
"""

import textwrap
from datetime import timedelta
from decimal import Decimal
from io import BytesIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sites.models import Site
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand
from django.db import transaction
from oscar.apps.catalogue.categories import create_from_breadcrumbs
from oscar.core.loading import get_model
from PIL import Image, ImageDraw, ImageFont

from oscar_recovery.campaigns.install import install_browse_defaults, install_defaults
from oscar_recovery.prompts.install import install_default_prompts
from oscar_recovery.recommendations.cooccurrence import rebuild as rebuild_recommendations

Country = get_model("address", "Country")
Partner = get_model("partner", "Partner")
StockRecord = get_model("partner", "StockRecord")
Product = get_model("catalogue", "Product")
ProductCategory = get_model("catalogue", "ProductCategory")
ProductClass = get_model("catalogue", "ProductClass")
ProductImage = get_model("catalogue", "ProductImage")
ProductRecommendation = get_model("catalogue", "ProductRecommendation")


# upc, title, category, price (GBP), stock (one sold out), image colour
PRODUCTS = [
    ("SBX-001", "Waxed Cotton Field Jacket", "Clothing > Jackets", "119.00", 8, "#556034"),
    ("SBX-002", "Packable Rain Shell", "Clothing > Jackets", "64.00", 15, "#1f3a5f"),
    ("SBX-003", "Quilted Gilet", "Clothing > Jackets", "48.00", 20, "#782d32"),
    ("SBX-004", "Merino Crew-Neck Jumper", "Clothing > Knitwear", "55.00", 25, "#46465a"),
    ("SBX-005", "Cable-Knit Cardigan", "Clothing > Knitwear", "72.00", 0, "#8c6e46"),
    ("SBX-006", "Lambswool Beanie", "Accessories", "18.00", 40, "#963c28"),
    ("SBX-007", "Wool Walking Socks, Pair of Two", "Accessories", "12.50", 60, "#3c645a"),
    ("SBX-008", "Leather Card Holder", "Accessories", "24.00", 30, "#643c23"),
    ("SBX-009", "Enamel Pin Badge", "Accessories", "5.00", 100, "#c8781e"),
    ("SBX-010", "Stoneware Mug", "Home", "9.50", 50, "#2d5578"),
    ("SBX-011", "Linen Tea Towel", "Home", "7.00", 70, "#6e783c"),
    ("SBX-012", "Wool Throw Blanket", "Home", "85.00", 10, "#5a3250"),
]

DESCRIPTIONS = {
    "SBX-001": (
        "A hard-wearing jacket in British waxed cotton with a corduroy collar, two bellows "
        "pockets and a tartan lining. Re-waxable for decades of wet walks."
    ),
    "SBX-002": (
        "Fully seam-taped and breathable, it folds into its own chest pocket. Made for "
        "showers that the forecast forgot to mention."
    ),
    "SBX-003": (
        "Light recycled-fill body warmer with a stand collar and snap front: the layer you "
        "reach for between seasons."
    ),
    "SBX-004": (
        "Fine-gauge extra-fine merino that is warm without bulk and does not itch. Knitted "
        "in Scotland."
    ),
    "SBX-005": (
        "A chunky shawl-collar cardigan in soft British wool, with horn-effect buttons. "
        "Back soon: this one sold out."
    ),
    "SBX-006": "A ribbed turn-up beanie in pure lambswool. One size, fits most heads.",
    "SBX-007": "Cushioned-sole socks in a wool blend that keeps feet warm and dry on long walks.",
    "SBX-008": "Vegetable-tanned leather with four card slots and a centre pocket for notes.",
    "SBX-009": (
        "A hard-enamel pin with a butterfly clasp. Small, cheerful, and just enough to tip "
        "an order into free delivery."
    ),
    "SBX-010": (
        "Hand-glazed stoneware, 350 ml, dishwasher and microwave safe. Each glaze is a "
        "little different."
    ),
    "SBX-011": "Washed linen that dries glasses without a streak and softens with every wash.",
    "SBX-012": (
        "A herringbone throw woven from undyed British wool, 130 x 180 cm, with fringed ends."
    ),
}

# (primary, recommended, ranking): higher rankings are shown first.
RECOMMENDATIONS = [
    ("SBX-001", "SBX-006", 10),
    ("SBX-001", "SBX-007", 5),
    ("SBX-002", "SBX-006", 10),
    ("SBX-003", "SBX-009", 10),
    ("SBX-003", "SBX-007", 5),
    ("SBX-004", "SBX-006", 10),
    ("SBX-010", "SBX-011", 10),
    ("SBX-012", "SBX-010", 5),
]

# (alpha-2, alpha-3, numeric, printable name, official name, display order)
COUNTRIES = [
    (
        "GB",
        "GBR",
        "826",
        "United Kingdom",
        "United Kingdom of Great Britain and Northern Ireland",
        10,
    ),
    ("IE", "IRL", "372", "Ireland", "Ireland", 0),
    ("FR", "FRA", "250", "France", "French Republic", 0),
    ("DE", "DEU", "276", "Germany", "Federal Republic of Germany", 0),
]


class Command(BaseCommand):
    help = "Create the sandbox's demo catalogue, shipping countries and users (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--domain",
            default=settings.SANDBOX_LINK_HOST,
            help="Domain of the Site, used for absolute links in emails (default: %(default)s).",
        )

    def handle(self, *args, domain: str, **options) -> None:
        with transaction.atomic():
            Site.objects.update_or_create(
                pk=settings.SITE_ID, defaults={"domain": domain, "name": settings.OSCAR_SHOP_NAME}
            )
            new_countries = self.create_countries()
            new_products, new_images = self.create_catalogue()
            new_users = self.create_users()
            campaign = self.create_campaign()
            prompts = install_default_prompts(activate=True)
            browse_campaign = self.create_browse_campaign()
        # The basket page's recommendations learn from the orders placed in the sandbox.
        rebuild_recommendations()
        self.copy_missing_image_placeholder()

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready ({new_products} new products, {new_images} new images, "
                f"{new_countries} new countries, {new_users} new users; "
                f"{len(PRODUCTS)} products in all)."
            )
        )
        self.stdout.write(f"  Site domain:        {domain}")
        self.stdout.write(
            "  Dashboard, admin:   admin@example.com (username admin), password admin"
        )
        self.stdout.write("  Customer:           customer@example.com, password customer")
        minutes = ", ".join(str(step.delay.total_seconds() / 60) for step in campaign.steps.all())
        self.stdout.write(
            f"  Recovery emails:    {campaign.name}, active, {minutes} minutes after abandonment "
            "(10% voucher in the last)"
        )
        self.stdout.write(
            f"  Browse emails:      {browse_campaign.name}, active (sign in, view, add nothing)"
        )
        self.stdout.write(
            f"  Free delivery from: £{settings.SANDBOX_FREE_SHIPPING_THRESHOLD}; "
            "test card 4000 0000 0000 0002 is declined"
        )
        active = ", ".join(prompt.name for prompt in prompts if prompt.is_active)
        self.stdout.write(f"  On-site prompts:    {active}")

    def create_campaign(self):
        """The default campaign, active, with a voucher on the last email and delays short
        enough to watch the whole sequence arrive at /outbox/."""
        campaign = install_defaults(activate=True, discount=Decimal("10"))
        steps = campaign.steps.order_by("position")
        for step, minutes in zip(steps, settings.SANDBOX_STEP_MINUTES, strict=False):
            if step.delay != timedelta(minutes=minutes):
                step.delay = timedelta(minutes=minutes)
                step.save(update_fields=["delay"])
        return campaign

    def create_browse_campaign(self):
        """The default browse-abandonment campaign, active, with the same short delays: sign
        in as the customer, look at a few products, add nothing, and wait."""
        campaign = install_browse_defaults(activate=True)
        steps = campaign.steps.order_by("position")
        for step, minutes in zip(steps, settings.SANDBOX_STEP_MINUTES[1:], strict=False):
            if step.delay != timedelta(minutes=minutes):
                step.delay = timedelta(minutes=minutes)
                step.save(update_fields=["delay"])
        return campaign

    def create_countries(self) -> int:
        created = 0
        for a2, a3, numeric, printable, official, order in COUNTRIES:
            __, new = Country.objects.update_or_create(
                iso_3166_1_a2=a2,
                defaults={
                    "iso_3166_1_a3": a3,
                    "iso_3166_1_numeric": numeric,
                    "printable_name": printable,
                    "name": official,
                    "display_order": order,
                    "is_shipping_country": True,
                },
            )
            created += new
        return created

    def create_catalogue(self) -> tuple[int, int]:
        partner, __ = Partner.objects.get_or_create(name="Sandbox Supplies")
        product_class, __ = ProductClass.objects.get_or_create(
            name="Goods", defaults={"requires_shipping": True, "track_stock": True}
        )
        new_products = new_images = 0
        by_upc = {}
        for upc, title, category, price, stock, colour in PRODUCTS:
            product, new = Product.objects.get_or_create(
                upc=upc,
                defaults={
                    "title": title,
                    "description": DESCRIPTIONS[upc],
                    "product_class": product_class,
                    "structure": Product.STANDALONE,
                },
            )
            new_products += new
            by_upc[upc] = product
            ProductCategory.objects.get_or_create(
                product=product, category=create_from_breadcrumbs(category)
            )
            StockRecord.objects.get_or_create(
                product=product,
                partner=partner,
                defaults={
                    "partner_sku": upc,
                    "price": Decimal(price),
                    "price_currency": settings.OSCAR_DEFAULT_CURRENCY,
                    "num_in_stock": stock,
                },
            )
            if not product.images.exists():
                image = ProductImage(product=product, caption=title, display_order=0)
                image.original.save(f"{product.slug}.png", product_png(title, colour), save=True)
                new_images += 1
        for primary, recommended, ranking in RECOMMENDATIONS:
            ProductRecommendation.objects.get_or_create(
                primary=by_upc[primary],
                recommendation=by_upc[recommended],
                defaults={"ranking": ranking},
            )
        return new_products, new_images

    def create_users(self) -> int:
        User = get_user_model()
        created = 0
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
            created += 1
        if not User.objects.filter(email__iexact="customer@example.com").exists():
            User.objects.create_user(
                "customer",
                "customer@example.com",
                "customer",
                first_name="Casey",
                last_name="Shopper",
            )
            created += 1
        return created

    def copy_missing_image_placeholder(self) -> None:
        # Oscar thumbnails its "no image" picture from MEDIA_ROOT, not from static files.
        name = settings.OSCAR_MISSING_IMAGE_URL
        source = finders.find(f"oscar/img/{name}")
        if source and not default_storage.exists(name):
            with open(source, "rb") as placeholder:
                default_storage.save(name, File(placeholder))


def product_png(title: str, colour: str) -> ContentFile:
    """A plain coloured square with the product's name on it."""
    image = Image.new("RGB", (800, 800), colour)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=64)
    text = textwrap.fill(title, width=14)
    draw.multiline_text(
        (400, 400), text, fill="white", font=font, anchor="mm", align="center", spacing=16
    )
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return ContentFile(buffer.getvalue())
