"""Manager pages: the portfolio dashboard, the scoring-model editor with its what-if preview, runs, capacity.

Every page is for managers (kam.web.manager_page). Numbers come from scoring.analytics; this module only
parses the request, calls it, and turns results into plotly figure specs (plain dicts rendered by
static/js/charts.js from a json_script block, so no inline script is needed).
"""

import math

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
from kam.web import int_or_none, manager_page
from scoring import selectors
from scoring.analytics.dashboard import Dashboard, capacity_report, portfolio_dashboard
from scoring.analytics.loading import PortfolioFilters
from scoring.analytics.whatif import whatif_preview
from scoring.forms import ScoringModelForm
from scoring.models import RunStatus, ScoreResult, ScoringModel, ScoringRun
from scoring.services import NoActiveModel, RunInProgress

PHASES = ("load", "clv", "score", "save")
PHASE_LABELS = {"load": "Reading orders", "clv": "Fitting CLV", "score": "Scoring", "save": "Publishing"}


def _filters(request) -> PortfolioFilters:
    get = request.GET
    return PortfolioFilters(
        owner=int_or_none(get.get("owner")),
        region=get.get("region", "").strip()[:100],
        industry=get.get("industry", "").strip()[:100],
    )


def _migration_runs(request, runs: list[ScoringRun]) -> tuple[ScoringRun, ScoringRun] | None:
    by_id = {run.pk: run for run in runs}
    chosen = by_id.get(int_or_none(request.GET.get("from"))), by_id.get(int_or_none(request.GET.get("to")))
    return chosen if all(chosen) else None


@manager_page
def dashboard(request):
    filters = _filters(request)
    runs = list(ScoringRun.objects.succeeded().select_related("model").latest_first()[:50])
    dash = portfolio_dashboard(
        filters=filters, today=timezone.localdate(), migration_runs=_migration_runs(request, runs)
    )
    figures = (
        cache.get_or_set(
            f"{dash.snapshot_key}:figures",
            lambda: _dashboard_figures(dash),
            settings.KAM_DASHBOARD_CACHE_SECONDS,
        )
        if dash.snapshot_key
        else _dashboard_figures(dash)
    )
    context = {"dash": dash, "filters": filters, "runs": runs, "figures": figures}
    if request.htmx and request.htmx.target == "dashboard-body":
        return render(request, "scoring/dashboard.html#body", context)
    context["choices"] = account_filter_choices(user=request.user)
    context["in_progress"] = ScoringRun.objects.in_progress().first()
    return render(request, "scoring/dashboard.html", context)


@manager_page
def capacity(request):
    filters = _filters(request)
    report = capacity_report(filters=filters, today=timezone.localdate())
    context = {"report": report, "filters": filters, "figure": _workload_figure(report["kams"])}
    if request.htmx and request.htmx.target == "capacity-body":
        return render(request, "scoring/capacity.html#body", context)
    context["choices"] = account_filter_choices(user=request.user)
    return render(request, "scoring/capacity.html", context)


@manager_page
def model_edit(request):
    active = selectors.active_model()
    form = ScoringModelForm(request.POST or None, initial=ScoringModelForm.initial_from(active))
    if request.method == "POST" and form.is_valid():
        from scoring.services import scoring_model_create_version

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


def _start_run(*, user) -> ScoringRun:
    """Queue a recompute through the background-jobs service; run it in-process while that is missing."""
    as_of = timezone.localdate()
    try:
        from scoring.runs import scoring_run_start
    except ImportError:
        from scoring.services import portfolio_recompute

        try:
            return portfolio_recompute(as_of=as_of, triggered_by=user, trigger="manual")
        except (RunInProgress, NoActiveModel):
            raise
        except Exception:
            return ScoringRun.objects.filter(triggered_by=user).order_by("-created_at", "-id").first()
    return scoring_run_start(as_of=as_of, triggered_by=user, trigger="manual")


def _queue_unavailable() -> tuple[type[Exception], ...]:
    try:
        from scoring.runs import JobQueueUnavailable
    except ImportError:
        return ()
    return (JobQueueUnavailable,)


def _start_notice(run: ScoringRun | None) -> tuple[str, str]:
    if run is None:
        return "The recompute could not be started.", "error"
    if run.status == RunStatus.SUCCEEDED:  # no job queue configured: it ran in this request
        return f"Recompute #{run.pk} finished.", "success"
    if run.status == RunStatus.FAILED:
        return f"Recompute #{run.pk} failed: {run.error or 'no reason recorded'}", "error"
    return f"Recompute #{run.pk} started; its progress shows below.", "success"


@require_POST
@manager_page
def run_start(request):
    run, notice, level = None, "", "success"
    try:
        run = _start_run(user=request.user)
        notice, level = _start_notice(run)
    except RunInProgress as exc:
        run, notice, level = exc.run, f"{exc} Following it instead.", "warning"
    except NoActiveModel:
        notice, level = "There is no active scoring model yet: save one first.", "error"
    except _queue_unavailable() as exc:
        run = ScoringRun.objects.filter(pk=getattr(exc, "run_id", None)).select_related("model").first()
        notice, level = str(exc), "error"
    if request.htmx:
        context = {"run": run, "notice": notice, "notice_level": level, "phases": PHASES}
        return render(request, "scoring/run_detail.html#status", context)
    getattr(messages, level)(request, notice)
    return redirect("scoring:run_detail", pk=run.pk) if run else redirect("scoring:model")


@manager_page
def run_list(request):
    runs = ScoringRun.objects.select_related("model", "triggered_by").order_by("-created_at", "-id")
    page = Paginator(runs, 25).get_page(request.GET.get("page"))
    return render(request, "scoring/run_list.html", {"page": page, "current": selectors.current_run()})


@manager_page
def run_detail(request, pk):
    run = get_object_or_404(ScoringRun.objects.select_related("model", "triggered_by"), pk=pk)
    context = {"run": run, "phases": PHASES, "phase_labels": PHASE_LABELS}
    if request.htmx:
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


# --- Figures: plotly specs as plain dicts ----------------------------------------------------------------

TIER_COLOURS = {"A": "#4c1d95", "B": "#2563eb", "C": "#0d9488", "D": "#8a94a6"}
REVENUE_COLOUR, CM_COLOUR, DANGER = "#1d4ed8", "#b45309", "#b42318"


def _num(value, digits: int = 4):
    """A JSON-safe number: NaN and infinities become None (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _nums(values, digits: int = 4) -> list:
    return [_num(v, digits) for v in values]


def _layout(**extra) -> dict:
    layout = {
        "height": 320,
        "margin": {"l": 56, "r": 16, "t": 12, "b": 48},
        "font": {
            "family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            "size": 12,
            "color": "#172033",
        },
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "hoverlabel": {"bgcolor": "#ffffff"},
    }
    return layout | extra


def _axis(title: str, **extra) -> dict:
    return {"title": {"text": title}, "gridcolor": "#e5e9f0", "zeroline": False, "automargin": True} | extra


def _dashboard_figures(dash: Dashboard) -> dict:
    if dash.run is None:
        return {}
    return {
        "pareto": _pareto_figure(dash.concentration),
        "margin": _margin_figure(dash.margin_map, dash.names),
        "distribution": _distribution_figure(dash.distribution),
        "migration": _migration_figure(dash.migration) if dash.migration is not None else None,
        "compliance": _compliance_figure(dash.compliance_top),
        "workload": _workload_figure(dash.workload_top.to_dict("records")),
    }


def _pareto_figure(conc: dict) -> dict:
    p = conc["pareto"]
    x = _nums(p["account_share"] * 100, 2)
    data = [
        {
            "type": "scatter", "mode": "lines", "name": "Revenue", "x": x, "y": _nums(p["revenue_share"] * 100, 2),
            "line": {"color": REVENUE_COLOUR, "width": 3},
            "hovertemplate": "Largest %{x:.1f}% of accounts: %{y:.1f}% of revenue<extra></extra>",
        },
        {
            "type": "scatter", "mode": "lines", "name": "Contribution margin", "x": x,
            "y": _nums(p["cm_share"] * 100, 2), "line": {"color": CM_COLOUR, "width": 3, "dash": "dash"},
            "hovertemplate": "Largest %{x:.1f}% of accounts: %{y:.1f}% of CM<extra></extra>",
        },
        {
            "type": "scatter", "mode": "lines", "name": "Equal shares", "x": [0, 100], "y": [0, 100],
            "line": {"color": "#9aa5b4", "width": 1, "dash": "dot"}, "hoverinfo": "skip",
        },
    ]  # fmt: skip
    layout = _layout(
        xaxis=_axis("Accounts, largest revenue first", ticksuffix="%", range=[0, 100]),
        yaxis=_axis("Cumulative share", ticksuffix="%", rangemode="tozero"),
        shapes=[{"type": "line", "x0": 20, "x1": 20, "yref": "paper", "y0": 0, "y1": 1,
                 "line": {"color": "#9aa5b4", "width": 1, "dash": "dot"}}],
    )  # fmt: skip
    return {"data": data, "layout": layout}


def _margin_figure(mm: dict, names: dict) -> dict:
    points = mm["points"]
    data = []
    for tier in ("A", "B", "C", "D"):
        # Key accounts last: they draw on top, and the legend shows the plain (circle) marker.
        part = points[points["tier"] == tier].sort_values("is_key", kind="stable")
        if part.empty:
            continue
        data.append(
            {
                "type": "scattergl" if len(points) > 800 else "scatter",
                "mode": "markers",
                "name": f"Tier {tier}",
                "x": _nums(part["revenue"], 2),
                "y": _nums(part["cm_pct"] * 100, 2),
                "text": [
                    f"{names.get(int(i), i)}{' (key)' if k else ''}"
                    for i, k in zip(part["account_id"], part["is_key"], strict=True)
                ],
                "marker": {
                    "color": TIER_COLOURS[tier],
                    "size": [11 if k else 7 for k in part["is_key"]],
                    "symbol": ["diamond" if k else "circle" for k in part["is_key"]],
                    "line": {"color": "#ffffff", "width": 0.5},
                    "opacity": 0.85,
                },
                "hovertemplate": "%{text}<br>Revenue %{x:,.0f}<br>CM %{y:.1f}%<extra>Tier "
                + tier
                + "</extra>",
            }
        )
    shapes, annotations = [], []
    big, pooled = mm["big_revenue"], mm["portfolio_cm_pct"]
    if big and pooled is not None and len(points):
        top = float(points["revenue"].max())
        low = min(float(points["cm_pct"].min() * 100), 0.0) - 5
        shapes = [
            # plotly.js 3 places shapes on a log axis in data units (not log10 of them).
            {"type": "rect", "x0": big, "x1": top * 1.6, "y0": low, "y1": pooled * 100,
             "fillcolor": "rgba(180, 35, 24, 0.07)", "line": {"width": 0}, "layer": "below"},
            {"type": "line", "x0": big, "x1": big, "yref": "paper", "y0": 0, "y1": 1,
             "line": {"color": "#9aa5b4", "width": 1, "dash": "dot"}},
            {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": pooled * 100, "y1": pooled * 100,
             "line": {"color": "#9aa5b4", "width": 1, "dash": "dot"}},
        ]  # fmt: skip
        annotations = [
            {"xref": "paper", "yref": "paper", "x": 1, "y": 0.02, "xanchor": "right", "yanchor": "bottom",
             "text": "<b>Big accounts, thin margins</b>", "showarrow": False, "font": {"color": DANGER}},
        ]  # fmt: skip
    layout = _layout(
        height=360,
        xaxis=_axis("Revenue, last 12 months (log scale)", type="log", dtick=1),
        yaxis=_axis("CM %", ticksuffix="%"),
        shapes=shapes,
        annotations=annotations,
        hovermode="closest",
    )
    return {"data": data, "layout": layout}


def _distribution_figure(stats) -> dict:
    data = []
    for tier, row in stats.iterrows():
        if not row["accounts"]:
            continue
        data.append(
            {
                "type": "box",
                "name": f"Tier {tier}",
                "x": [f"Tier {tier}"],
                "q1": [_num(row["q1"], 2)],
                "median": [_num(row["median"], 2)],
                "q3": [_num(row["q3"], 2)],
                "lowerfence": [_num(row["min"], 2)],
                "upperfence": [_num(row["max"], 2)],
                "mean": [_num(row["mean"], 2)],
                "marker": {"color": TIER_COLOURS[tier]},
                "line": {"color": TIER_COLOURS[tier]},
                "fillcolor": TIER_COLOURS[tier] + "33",
                "hoverinfo": "y",
            }
        )
    layout = _layout(showlegend=False, xaxis=_axis(""), yaxis=_axis("Score", range=[0, 100]))
    return {"data": data, "layout": layout}


def _migration_figure(matrix) -> dict:
    rows = [str(r) for r in matrix.index]
    cols = [str(c) for c in matrix.columns]
    z = matrix.to_numpy().tolist()
    data = [
        {
            "type": "heatmap",
            "z": z,
            "x": ["Gone" if c == "gone" else f"To {c}" for c in cols],
            "y": ["New" if r == "new" else f"From {r}" for r in rows],
            "text": z,
            "texttemplate": "%{text}",
            "colorscale": [[0, "#f8fafc"], [0.0001, "#dbe8ff"], [1, "#1d4ed8"]],
            "showscale": False,
            "hovertemplate": "%{y} %{x}: %{z} accounts<extra></extra>",
            "xgap": 2,
            "ygap": 2,
        }
    ]
    layout = _layout(
        height=300,
        xaxis=_axis("", side="top"),
        yaxis=_axis("", autorange="reversed"),
        margin={"l": 72, "r": 8, "t": 32, "b": 8},
    )
    return {"data": data, "layout": layout}


def _compliance_figure(compliance) -> dict:
    rows = compliance.sort_values(["compliance", "name"], ascending=[False, True])
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": rows["name"].tolist(),
            "x": _nums(rows["compliance"] * 100, 1),
            "text": [
                f"{int(a)} of {int(b)}" for a, b in zip(rows["on_track"], rows["with_cadence"], strict=True)
            ],
            "textposition": "auto",
            "marker": {
                "color": [
                    "#0f6b3a" if c >= 0.8 else "#b45309" if c >= 0.6 else DANGER for c in rows["compliance"]
                ]
            },
            "hovertemplate": "%{y}: %{x:.0f}% on track (%{text})<extra></extra>",
        }
    ]
    layout = _layout(
        height=max(200, 60 + 36 * len(rows)),
        showlegend=False,
        # Short: plotly does not wrap axis titles, and on a phone the plot is ~200 px wide.
        xaxis=_axis("On track", ticksuffix="%", range=[0, 104], dtick=25),
        yaxis=_axis("", automargin=True),
        margin={"l": 8, "r": 16, "t": 8, "b": 48},
    )
    return {"data": data, "layout": layout}


def _workload_figure(kams: list[dict]) -> dict:
    rows = list(reversed(kams))  # plotly draws the first bar at the bottom; the table lists it first
    names = [k["name"] for k in rows]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "Visits needed a month",
            "y": names,
            "x": [_num(k["visits_needed"], 1) for k in rows],
            "marker": {"color": [DANGER if k["overload"] > 0 else REVENUE_COLOUR for k in rows]},
            "hovertemplate": "%{y}: %{x:.1f} visits a month needed<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "Capacity",
            "y": names,
            "x": [k["capacity"] for k in rows],
            "marker": {
                "symbol": "line-ns-open",
                "size": 26,
                "color": "#172033",
                "line": {"width": 3, "color": "#172033"},
            },
            "hovertemplate": "%{y}: capacity %{x} visits a month<extra></extra>",
        },
    ]
    layout = _layout(
        height=max(220, 90 + 40 * len(rows)),
        xaxis=_axis("Visits a month", rangemode="tozero"),
        yaxis=_axis("", automargin=True),
        margin={"l": 8, "r": 16, "t": 8, "b": 48},
        bargap=0.4,
    )
    return {"data": data, "layout": layout}
