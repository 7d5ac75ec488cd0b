"""Views of the recovery dashboard: thin, over :mod:`oscar_recovery.reports` and the
enrolment actions in :mod:`oscar_recovery.dispatch`. Access control is Oscar's (the app
config's ``permissions_map``: the admin's model permissions). Every table offers
``?export=<table>`` as CSV."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import DetailView, ListView, TemplateView
from oscar.views.decorators import check_permissions

from oscar_recovery import app_settings, handoff
from oscar_recovery.audiences import report as audience_report
from oscar_recovery.campaigns import dispatch
from oscar_recovery.campaigns.enrolment import active_holdouts, holdout_note
from oscar_recovery.contacts import profile
from oscar_recovery.dashboard import contact_state, csv_export
from oscar_recovery.dashboard.forms import BasketFilterForm, ContactFilterForm, PeriodForm
from oscar_recovery.dashboard.permissions import ACT_ON_ENROLMENTS, AUDIENCE_CSV
from oscar_recovery.dashboard.timeline import journey_timeline, stop_reason_text
from oscar_recovery.models import Audience, CartJourney, Contact, RecoveryMessage
from oscar_recovery.operations import health
from oscar_recovery.reporting import aggregation, reports
from oscar_recovery.sending.content import display_step


def _pct(value) -> str:
    return "" if value is None else f"{value * 100:.2f}"


class PeriodMixin:
    """A page about a date range chosen with :class:`PeriodForm` (GET)."""

    def get_period_form(self) -> PeriodForm:
        return PeriodForm(self.request.GET or None)

    def get(self, request, *args, **kwargs):
        self.period_form = self.get_period_form()
        self.period = self.period_form.period
        export = request.GET.get("export")
        if export:
            exporter = self.exports().get(export)
            if exporter is None:
                raise Http404(_("No such table."))
            return exporter()
        return super().get(request, *args, **kwargs)

    def exports(self) -> dict:
        return {}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(period_form=self.period_form, period=self.period)
        return context

    def export_name(self, table: str) -> str:
        return f"recovery-{table}-{self.period.start}-{self.period.end}"


class OverviewView(PeriodMixin, TemplateView):
    template_name = "oscar_recovery/dashboard/overview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        overview = reports.overview(self.period)
        funnel = reports.funnel(self.period, overview.current)
        series = reports.daily_series(self.period)
        context.update(
            labels=reports.LABELS,
            task_mode=handoff.task_mode(),
            holdouts=active_holdouts(),
            celery_eager=handoff.celery_runs_eagerly(),
            needs_workers=handoff.needs_workers(),
            health=health.check(),
            overview=overview,
            figures=overview_figures(overview),
            funnel=funnel,
            worst_step=reports.worst_step(funnel),
            worst_step_minimum=reports.WORST_STEP_MIN_REACHED,
            deliveries_unreported=bool(overview.current["sent"])
            and not overview.current["delivered"],
            chart_config={
                "daily": {
                    "labels": series["days"],
                    "abandoned": series["abandoned"],
                    "recovered": series["recovered"],
                    "abandonedLabel": str(reports.LABELS["abandoned"]),
                    "recoveredLabel": str(reports.LABELS["recovered_orders"]),
                },
                "funnel": {
                    "labels": [step.label for step in funnel],
                    "reached": [step.reached for step in funnel],
                    "reachedLabel": str(_("Journeys that reached the step")),
                },
            },
        )
        return context

    def exports(self) -> dict:
        return {
            "overview": self.export_overview,
            "funnel": self.export_funnel,
            "daily": self.export_daily,
        }

    def export_overview(self):
        overview = reports.overview(self.period)
        rows = [
            (str(label), _csv_value(current, kind), _csv_value(previous, kind))
            for label, current, previous, kind in overview_figures(overview)
        ]
        header = (
            _("Figure"),
            str(overview.period.start) + "/" + str(overview.period.end),
            str(overview.previous.start) + "/" + str(overview.previous.end),
        )
        return csv_export.csv_response(self.export_name("overview"), header, rows)

    def export_funnel(self):
        funnel = reports.funnel(self.period)
        rows = [(step.label, step.reached, step.dropped, _pct(step.drop_rate)) for step in funnel]
        header = (_("Step"), _("Reached"), _("Went no further"), _("Drop-off %"))
        return csv_export.csv_response(self.export_name("funnel"), header, rows)

    def export_daily(self):
        series = reports.daily_series(self.period)
        rows = zip(
            series["days"],
            series["abandoned"],
            series["sent"],
            series["recovered"],
            series["revenue"],
            strict=True,
        )
        header = (
            _("Day"),
            reports.LABELS["abandoned"],
            reports.LABELS["sent"],
            reports.LABELS["recovered_orders"],
            reports.LABELS["recovered_revenue"],
        )
        return csv_export.csv_response(self.export_name("daily"), header, rows)


def _csv_value(value, kind: str):
    return _pct(value) if kind == "rate" else value


def overview_figures(overview: reports.Overview) -> list[tuple]:
    """(label, this period, previous period, kind) for the overview's table; ``kind`` tells
    the template how to format the value."""
    now, then = overview.current, overview.before
    names = (
        ("created", "count"),
        ("abandoned", "count"),
        ("abandonment_rate", "rate"),
        ("identified_share", "rate"),
        ("abandoned_value", "money"),
        ("emailed", "count"),
        ("sent", "count"),
        ("delivered", "count"),
        ("clicked", "count"),
        ("click_rate", "rate"),
        ("recovered_orders", "count"),
        ("recovered_revenue", "money"),
        ("recovery_rate", "rate"),
        ("revenue_per_email", "money"),
    )
    return [(reports.LABELS[name], now[name], then[name], kind) for name, kind in names]


class CampaignsView(PeriodMixin, TemplateView):
    template_name = "oscar_recovery/dashboard/campaigns.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            holdouts=active_holdouts(),
            labels=reports.LABELS,
            campaign_rows=reports.campaign_rows(self.period),
            step_rows=reports.step_rows(self.period),
            prompt_rows=reports.prompt_rows(self.period),
            prompt_columns=reports.PROMPT_COLUMNS,
        )
        return context

    def exports(self) -> dict:
        return {
            "campaigns": self.export_campaigns,
            "steps": self.export_steps,
            "prompts": self.export_prompts,
        }

    def _email_columns(self, row) -> list:
        return [
            row["sent"],
            row["delivered"],
            _pct(row["delivery_rate"]),
            row["clicked"],
            _pct(row["click_rate"]),
            row["recovered_orders"],
            row["recovered_revenue"],
            row["revenue_per_email"],
        ]

    _EMAIL_HEADER = (
        _("Sent"),
        _("Delivered"),
        _("Delivery %"),
        _("Clicked"),
        _("Click %"),
        _("Recovered orders"),
        _("Recovered revenue"),
        _("Revenue per email"),
    )

    def export_campaigns(self):
        rows = []
        for row in reports.campaign_rows(self.period):
            lift = row["lift"]
            rows.append(
                [
                    row.label,
                    row["emailed"],
                    row["enrolled"],
                    row["holdout"],
                    _pct(lift.emailed_rate),
                    _pct(lift.holdout_rate),
                    _pct(lift.interval.estimate) if lift.interval else "",
                    *self._email_columns(row),
                ]
            )
        header = (
            _("Campaign"),
            reports.LABELS["emailed"],
            reports.LABELS["enrolled"],
            reports.LABELS["holdout"],
            _("Emailed group order %"),
            _("Holdout order %"),
            _("Lift (points)"),
            *self._EMAIL_HEADER,
        )
        return csv_export.csv_response(self.export_name("campaigns"), header, rows)

    def export_steps(self):
        rows = [
            [row.label, row["subject"], *self._email_columns(row)]
            for row in reports.step_rows(self.period)
        ]
        header = (_("Step"), _("Subject"), *self._EMAIL_HEADER)
        return csv_export.csv_response(self.export_name("steps"), header, rows)

    def export_prompts(self):
        columns = reports.PROMPT_COLUMNS
        rows = [[row[name] for name, _label in columns] for row in reports.prompt_rows(self.period)]
        header = [label for _name, label in columns]
        return csv_export.csv_response(self.export_name("prompts"), header, rows)


class ABTestsView(TemplateView):
    template_name = "oscar_recovery/dashboard/ab_tests.html"

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "ab-tests":
            return self.export()
        if request.GET.get("export"):
            raise Http404(_("No such table."))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            groups=reports.ab_results(),
            sample_size=app_settings.AB_SAMPLE_SIZE,
            alpha=app_settings.AB_ALPHA,
            msprt_tau=reports.stats.MSPRT_TAU,
            msprt_threshold=1 / app_settings.AB_ALPHA,
        )
        return context

    def export(self):
        rows = []
        for group in reports.ab_results():
            for result in group:
                base = [
                    display_step(result.step),
                    result.label,
                    result.sent,
                    result.clicked,
                    result.recovered_orders,
                    result.recovered_revenue,
                ]
                if not result.comparisons:
                    rows.append([*base, "", "", "", "", "", "", ""])
                for comparison in result.comparisons:
                    test = comparison.result.test
                    sequential = comparison.sequential
                    rows.append(
                        [
                            *base,
                            comparison.outcome,
                            comparison.result.verdict.value,
                            f"{test.z:.4f}" if test else "",
                            f"{test.p_value:.6f}" if test else "",
                            f"{comparison.result.progress:.4f}",
                            sequential.verdict.value if sequential else "",
                            f"{sequential.p_value:.6f}" if sequential else "",
                        ]
                    )
        header = (
            _("Step"),
            _("Variant"),
            _("Sent"),
            _("Clicked"),
            _("Recovered orders"),
            _("Recovered revenue"),
            _("Judged on"),
            _("Verdict"),
            "z",
            "p",
            _("Sample progress"),
            _("Sequential verdict"),
            _("Always-valid p"),
        )
        return csv_export.csv_response("recovery-ab-tests", header, rows)


class ProductsView(PeriodMixin, TemplateView):
    template_name = "oscar_recovery/dashboard/products.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["products"] = reports.top_products(self.period)
        return context

    def exports(self) -> dict:
        return {"products": self.export_products}

    def export_products(self):
        rows = [
            (row.product_id, row.title, row.baskets, row.quantity, row.value)
            for row in reports.top_products(self.period, limit=1000)
        ]
        header = (_("Product id"), _("Product"), _("Abandoned baskets"), _("Quantity"), _("Value"))
        return csv_export.csv_response(self.export_name("products"), header, rows)


def _without_page(query):
    """A list's query string without its page: what the pagination links carry on."""
    query = query.copy()
    query.pop("page", None)
    return query


class BasketListView(ListView):
    template_name = "oscar_recovery/dashboard/basket_list.html"
    context_object_name = "journeys"
    paginate_by = 50

    def get(self, request, *args, **kwargs):
        self.form = BasketFilterForm(request.GET or None)
        if request.GET.get("export") == "baskets":
            return self.export()
        if request.GET.get("export"):
            raise Http404(_("No such table."))
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        # Bots can be listed too (the form's "bots", marked, never contacted), unlike in the
        # figures: a first visitor who scripts the sandbox with HeadlessChrome sees why no
        # email came.
        # The baskets the figures count (a restored copy is its original's row).
        queryset = aggregation.basket_journeys().filter(abandoned_at__isnull=False)
        return (
            self.form.filter(queryset)
            .select_related("enrolment__campaign", "order")
            .order_by("-abandoned_at", "-pk")
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = _without_page(self.request.GET)
        bots_shown = self.form.is_valid() and self.form.cleaned_data["bots"]
        if not bots_shown:
            query["bots"] = "on"
            context["bots_hidden_query"] = query.urlencode()
            query.pop("bots")
        context.update(form=self.form, query=query.urlencode())
        # The page's addresses on the suppression list, read now: an unsubscribe shows at once.
        context["journeys"] = context["object_list"] = contact_state.attach(context["journeys"])
        return context

    def export(self):
        rows = (
            (
                journey.pk,
                journey.email,
                journey.get_status_display(),
                journey.get_furthest_step_display(),
                journey.total,
                journey.currency,
                journey.num_items,
                journey.abandoned_at.isoformat(),
                getattr(getattr(journey, "enrolment", None), "campaign", "") or "",
                journey.order.number if journey.order_id else "",
                journey.order_total,
                journey.no_more_emails.label if journey.no_more_emails else "",
            )
            for journey in _with_contact_state(self.get_queryset().iterator(chunk_size=2000))
        )
        header = (
            _("Journey"),
            _("Email"),
            _("Status"),
            _("Furthest step"),
            _("Value"),
            _("Currency"),
            _("Items"),
            _("Abandoned at"),
            _("Campaign"),
            _("Order"),
            _("Order total"),
            _("No more emails"),
        )
        return csv_export.csv_response("recovery-abandoned-baskets", header, rows, stream=True)


def _with_contact_state(journeys, chunk_size: int = 2000):
    """The journeys with ``no_more_emails`` set (:func:`contact_state.attach`), one look-up
    per ``chunk_size`` of them, for a streamed export."""
    chunk = []
    for journey in journeys:
        chunk.append(journey)
        if len(chunk) == chunk_size:
            yield from contact_state.attach(chunk)
            chunk = []
    yield from contact_state.attach(chunk)


class BasketDetailView(DetailView):
    template_name = "oscar_recovery/dashboard/basket_detail.html"
    context_object_name = "journey"

    def get_queryset(self):
        return CartJourney.objects.select_related(
            "enrolment__campaign",
            "enrolment__next_step",
            "order",
            "user",
            "merged_into",
            "contact",
        ).prefetch_related(
            "events",
            Prefetch(
                "messages",
                queryset=RecoveryMessage.objects.select_related(
                    "step__campaign", "variant"
                ).prefetch_related("tracking_events"),
            ),
        )

    def get(self, request, *args, **kwargs):
        export = request.GET.get("export")
        if not export:
            return super().get(request, *args, **kwargs)
        journey = self.get_object()
        name = f"recovery-basket-{journey.pk}-{export}"
        if export == "lines":
            rows = [
                (
                    line.get("product_id"),
                    line.get("title"),
                    line.get("upc"),
                    line.get("quantity"),
                    line.get("unit_price"),
                    line.get("line_total"),
                )
                for line in journey.lines or ()
            ]
            header = (
                _("Product id"),
                _("Product"),
                _("UPC"),
                _("Quantity"),
                _("Price"),
                _("Total"),
            )
            return csv_export.csv_response(name, header, rows)
        if export == "timeline":
            rows = [
                (entry.at.isoformat(), entry.kind, entry.title, entry.detail)
                for entry in journey_timeline(journey, no_more=self.no_more_emails(journey))
            ]
            return csv_export.csv_response(
                name, (_("When"), _("Kind"), _("What"), _("Detail")), rows
            )
        raise Http404(_("No such table."))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        journey = self.object
        no_more = self.no_more_emails(journey)
        enrolment = getattr(journey, "enrolment", None)
        allowed = dispatch.allowed_actions(enrolment) if enrolment else []
        if not check_permissions(self.request.user, ACT_ON_ENROLMENTS):
            allowed = []  # the action view refuses them: offer no button
        context.update(
            timeline=journey_timeline(journey, no_more=no_more),
            no_more_emails=no_more,
            enrolment=enrolment,
            stop_reason=stop_reason_text(enrolment.stop_reason, no_more) if enrolment else "",
            holdout_note=(
                holdout_note(enrolment.campaign.holdout_percent)
                if enrolment and enrolment.is_holdout
                else ""
            ),
            actions={
                name: label
                for name, (label, _service) in BasketActionView.ACTIONS.items()
                if name in allowed
            },
        )
        return context

    @staticmethod
    def no_more_emails(journey: CartJourney) -> contact_state.NoMoreEmails | None:
        return contact_state.attach([journey])[0].no_more_emails


class BasketActionView(View):
    """POST-only staff actions on a basket's enrolment (CSRF-protected by Django)."""

    http_method_names = ["post"]
    ACTIONS = {
        "send_now": (_("Send the next step now"), dispatch.send_next_step_now),
        "pause": (_("Pause"), dispatch.pause_enrolment),
        "resume": (_("Resume"), dispatch.resume_enrolment),
        "stop": (_("Stop"), dispatch.stop_enrolment_by_staff),
    }
    DONE = {
        "send_now": _("The next email is on its way."),
        "pause": _("The email sequence is paused."),
        "resume": _("The email sequence continues."),
        "stop": _("The email sequence is stopped."),
    }

    def post(self, request, pk: int):
        journey = get_object_or_404(CartJourney.objects.select_related("enrolment"), pk=pk)
        url = reverse("recovery_dashboard:recovery-basket-detail", args=[journey.pk])
        action = self.ACTIONS.get(request.POST.get("action", ""))
        if action is None:
            return HttpResponseBadRequest(_("Unknown action."))
        enrolment = getattr(journey, "enrolment", None)
        if enrolment is None:
            messages.error(request, _("That action does not apply to this basket."))
            return HttpResponseRedirect(url, status=303)
        try:
            action[1](enrolment.pk)
        except dispatch.EnrolmentActionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, self.DONE[request.POST["action"]])
        return HttpResponseRedirect(url, status=303)


class ContactListView(ListView):
    """Customers (contacts), searchable by address, newest seen first."""

    template_name = "oscar_recovery/dashboard/contact_list.html"
    context_object_name = "contacts"
    paginate_by = 50

    def get(self, request, *args, **kwargs):
        self.form = ContactFilterForm(request.GET or None)
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return self.form.filter()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        states = profile.email_states(context["contacts"])
        context.update(
            form=self.form,
            query=_without_page(self.request.GET).urlencode(),
            rows=[(contact, states[contact.pk]) for contact in context["contacts"]],
        )
        return context


class ContactDetailView(DetailView):
    """One customer: identity, facts, journeys, messages, consent, orders and merges."""

    template_name = "oscar_recovery/dashboard/contact_detail.html"
    context_object_name = "contact"
    slug_field = "uuid"
    slug_url_kwarg = "uuid"

    def get_queryset(self):
        return Contact.objects.select_related("user", "facts", "merged_into")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["profile"] = profile.profile(self.object)
        return context


class AudienceListView(TemplateView):
    """Retargeting audiences (under Customers): each one's size, the share of its segment
    that gave ads consent, its sync per destination, errors, who leaves at the next sync,
    and a warning below the platforms' minimum size."""

    template_name = "oscar_recovery/dashboard/audiences.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The built-ins in their own order (2, 7, 14 days, ...), then the owner's.
        audiences = Audience.objects.select_related("segment").order_by("pk")
        context.update(
            overviews=[audience_report.overview(audience) for audience in audiences],
            minimum=app_settings.AUDIENCE_MIN_SIZE,
            may_download=check_permissions(self.request.user, AUDIENCE_CSV),
            csv_formats=list(audience_report.CSV_FORMATS),
        )
        return context


class AudienceCSVView(View):
    """One audience's current members as a CSV in a platform's upload format, streamed:
    SHA-256 hashes only (``audiences.report.csv_rows``)."""

    def get(self, request, pk: int, platform: str):
        audience = get_object_or_404(Audience, pk=pk)
        if platform not in audience_report.CSV_FORMATS:
            raise Http404
        header = audience_report.CSV_FORMATS[platform]
        rows = audience_report.csv_rows(audience, platform)
        return csv_export.csv_response(
            f"{audience.slug}-{platform}", header, rows, stream=True, bom=False
        )
