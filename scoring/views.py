"""Manager pages: the portfolio dashboard, the scoring-model editor with its what-if preview, runs, capacity.

Every page is for managers (kam.web.manager_page). Numbers come from scoring.analytics; this module only
parses the request, calls it, and hands the results to scoring.charts for the figures.
"""

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, FloatField, Sum
from django.db.models.functions import Cast
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.selectors import account_filter_choices
from kam.web import fragment_view, int_or_none, manager_page, wants_fragment
from scoring import charts, selectors
from scoring.analytics.dashboard import capacity_report, portfolio_dashboard
from scoring.analytics.loading import PortfolioFilters
from scoring.analytics.whatif import whatif_preview
from scoring.forms import ScoringModelForm
from scoring.models import RunStatus, ScoreResult, ScoringModel, ScoringRun
from scoring.runs import JobQueueUnavailable, scoring_run_start
from scoring.services import NoActiveModel, RunInProgress, scoring_model_create_version

PHASES = ("load", "clv", "score", "save")
PHASE_LABELS = {"load": "Reading orders", "clv": "Fitting CLV", "score": "Scoring", "save": "Publishing"}


def _migration_runs(request, runs: list[ScoringRun]) -> tuple[ScoringRun, ScoringRun] | None:
    by_id = {run.pk: run for run in runs}
    chosen = by_id.get(int_or_none(request.GET.get("from"))), by_id.get(int_or_none(request.GET.get("to")))
    return chosen if all(chosen) else None


@fragment_view(by_target=True)
@manager_page
def dashboard(request):
    filters = PortfolioFilters.from_query(request.GET)
    runs = list(ScoringRun.objects.succeeded().select_related("model").latest_first()[:50])
    dash = portfolio_dashboard(
        filters=filters, today=timezone.localdate(), migration_runs=_migration_runs(request, runs)
    )
    figures = (
        cache.get_or_set(
            f"{dash.snapshot_key}:figures",
            lambda: charts.dashboard_figures(dash),
            settings.KAM_DASHBOARD_CACHE_SECONDS,
        )
        if dash.snapshot_key
        else charts.dashboard_figures(dash)
    )
    context = {"dash": dash, "filters": filters, "runs": runs, "figures": figures}
    if wants_fragment(request, target="dashboard-body"):
        return render(request, "scoring/dashboard.html#body", context)
    context["choices"] = account_filter_choices(user=request.user)
    context["in_progress"] = ScoringRun.objects.in_progress().first()
    return render(request, "scoring/dashboard.html", context)


@fragment_view(by_target=True)
@manager_page
def capacity(request):
    filters = PortfolioFilters.from_query(request.GET)
    report = capacity_report(filters=filters, today=timezone.localdate())
    context = {"report": report, "filters": filters, "figure": charts.workload_figure(report["kams"])}
    if wants_fragment(request, target="capacity-body"):
        return render(request, "scoring/capacity.html#body", context)
    context["choices"] = account_filter_choices(user=request.user)
    return render(request, "scoring/capacity.html", context)


@manager_page
def model_edit(request):
    active = selectors.active_model()
    form = ScoringModelForm(request.POST or None, initial=ScoringModelForm.initial_from(active))
    if request.method == "POST" and form.is_valid():
        if active is not None and not form.has_changed():  # an identical version would only clutter the list
            messages.info(request, f"Nothing changed: version {active.version} stays active.")
            return redirect("scoring:model")
        try:
            version = scoring_model_create_version(data=form.model_data(), created_by=request.user)
        except (ValidationError, ValueError) as exc:
            form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))
        else:
            messages.success(
                request, f"Saved as version {version.version}. Recompute the portfolio to score with it."
            )
            return redirect("scoring:model")
    versions = (
        ScoringModel.objects.select_related("created_by")
        .annotate(run_count=Count("runs"))
        .order_by("-version")[:20]
    )
    context = {
        "form": form,
        "active": active,
        "versions": versions,
        "run": ScoringRun.objects.select_related("model").order_by("-created_at", "-id").first(),
        "current": selectors.current_run(),
    }
    return render(request, "scoring/model.html", context)


@require_POST
@manager_page
def model_preview(request):
    form = ScoringModelForm(request.POST)
    preview = whatif_preview(weights=form.weights(), tier_rule=form.tier_rule()) if form.is_valid() else None
    return render(request, "scoring/model.html#preview", {"form": form, "preview": preview})


def _start_notice(run: ScoringRun | None) -> tuple[str, str]:
    if run is None:
        return "The recompute could not be started.", "error"
    if run.status == RunStatus.SUCCEEDED:  # no job queue configured: it ran in this request
        return f"Recompute #{run.pk} finished.", "success"
    if run.status == RunStatus.FAILED:
        return f"Recompute #{run.pk} failed: {run.error or 'no reason recorded'}", "error"
    return f"Recompute #{run.pk} started; its progress shows below.", "success"


@fragment_view
@require_POST
@manager_page
def run_start(request):
    run, notice, level = None, "", "success"
    try:
        run = scoring_run_start(as_of=timezone.localdate(), triggered_by=request.user, trigger="manual")
        notice, level = _start_notice(run)
    except RunInProgress as exc:
        run, notice, level = exc.run, f"{exc} Following it instead.", "warning"
    except NoActiveModel:
        notice, level = "There is no active scoring model yet: save one first.", "error"
    except JobQueueUnavailable as exc:
        run = ScoringRun.objects.filter(pk=exc.run_id).select_related("model").first()
        notice, level = str(exc), "error"
    if wants_fragment(request):
        context = {"run": run, "notice": notice, "notice_level": level, "phases": PHASES}
        return render(request, "scoring/run_detail.html#status", context)
    getattr(messages, level)(request, notice)
    return redirect("scoring:run_detail", pk=run.pk) if run else redirect("scoring:model")


@manager_page
def run_list(request):
    runs = ScoringRun.objects.select_related("model", "triggered_by").order_by("-created_at", "-id")
    page = Paginator(runs, 25).get_page(request.GET.get("page"))
    return render(request, "scoring/run_list.html", {"page": page, "current": selectors.current_run()})


@fragment_view
@manager_page
def run_detail(request, pk):
    run = get_object_or_404(ScoringRun.objects.select_related("model", "triggered_by"), pk=pk)
    context = {"run": run, "phases": PHASES, "phase_labels": PHASE_LABELS}
    if wants_fragment(request):
        return render(request, "scoring/run_detail.html#status", context)
    context["tiers"] = (
        ScoreResult.objects.filter(run=run)
        .values("tier")
        .annotate(
            accounts=Count("id"), revenue=Sum(Cast("revenue", FloatField())), cm=Sum(Cast("cm", FloatField()))
        )
        .order_by("tier")
    )
    context["current"] = selectors.current_run()
    context["previous"] = (
        ScoringRun.objects.select_related("model").previous_to(run)
        if run.status == RunStatus.SUCCEEDED
        else None
    )
    return render(request, "scoring/run_detail.html", context)
