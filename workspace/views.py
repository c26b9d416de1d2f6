import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import access, cadence, selectors, services
from accounts.access import can_edit, get_account_for_user
from accounts.models import Account, AccountTeamMember, Tier
from dataio import exports
from kam.web import fragment_view, manager_page, nothing_changed, staff_page, wants_fragment
from plans import selectors as plan_selectors
from scoring import charts
from scoring import selectors as scoring_selectors
from workspace import selectors as workspace_selectors
from workspace.forms import AccountForm, DesignationForm, ServiceIssueForm, TeamMemberForm, VisitForm

CHART_MONTHS = 24
# A second identical visit form from the same person this soon is a double submission, not a second visit.
VISIT_REPLAY_WINDOW = datetime.timedelta(minutes=10)


def _next_url(request, default: str) -> str:
    """Where to go back to after a form: the `next` the page sent, if it points into this site."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return default


# My day shows the first rows of each section, a screenful on a phone, with the exact total; "Show all"
# opens one section (?more=<section>) up to MY_DAY_ALL rows, beyond which the account list takes over.
MY_DAY_ROWS = 10
MY_DAY_ALL = 100
MY_DAY_SECTIONS = ("due", "lapsed_cadence", "coverage_gap", "actions")


def _section(rows: list, *, name: str, shown: int) -> dict:
    total = rows[0].total if rows else 0
    return {
        "name": name,
        "rows": rows,
        "total": total,
        "more": total > len(rows),
        "open": shown > MY_DAY_ROWS,
    }


@staff_page
def home(request):
    today = timezone.localdate()
    soon = cadence.due_soon_until(today)
    more = request.GET.get("more", "")
    shown = {name: MY_DAY_ALL if more == name else MY_DAY_ROWS for name in MY_DAY_SECTIONS}
    # One query for both kinds: each kind gets the larger cap, then its own is applied here.
    alerts = workspace_selectors.my_open_alerts(
        user=request.user, limit=max(shown["lapsed_cadence"], shown["coverage_gap"])
    )
    lapsed, gaps = (
        _section(
            [a for a in alerts if a.kind == kind][: shown[kind]],
            name=kind,
            shown=shown[kind],
        )
        for kind in ("lapsed_cadence", "coverage_gap")
    )
    context = {
        "today": today,
        "soon": soon,
        "due": _section(
            list(workspace_selectors.my_due_accounts(user=request.user, until=soon, limit=shown["due"])),
            name="due",
            shown=shown["due"],
        ),
        "lapsed_alerts": lapsed,
        "coverage_gaps": gaps,
        "alert_count": lapsed["total"] + gaps["total"],
        "actions": _section(
            list(plan_selectors.actions_due(user=request.user, until=soon)[: shown["actions"]]),
            name="actions",
            shown=shown["actions"],
        ),
        "changes": workspace_selectors.my_score_changes(user=request.user),
        "can_edit": True,  # every action listed is on a visible account the user owns or owns the action of
        "next_url": request.get_full_path(),
    }
    return render(request, "accounts/home.html", context)


@fragment_view
@staff_page
def account_list(request):
    today = timezone.localdate()
    filters = selectors.AccountFilters.from_query(request.GET)
    page = Paginator(selectors.account_list(user=request.user, filters=filters, today=today), 25).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "filters": filters, "today": today, "soon": cadence.due_soon_until(today)}
    if wants_fragment(request):
        return render(request, "accounts/list.html#results", context)
    context["choices"] = selectors.account_filter_choices(user=request.user)
    context["tiers"] = Tier.choices
    return render(request, "accounts/list.html", context)


@staff_page
def account_export(request):
    """The account list as CSV (?format=xlsx: Excel): exactly what the list shows (same filters and sort),
    every page, streamed. The import-shaped exports of accounts and what hangs under them: dataio.exports."""
    rows = exports.export_rows(
        selectors.account_list(
            user=request.user,
            filters=selectors.AccountFilters.from_query(request.GET),
            today=timezone.localdate(),
        )
    )
    header = next(rows)  # the generator yields the header before it queries
    fmt = exports.XLSX if request.GET.get("format") == exports.XLSX else exports.CSV
    return exports.response("accounts", fmt, header, rows)


@staff_page
def account_detail(request, pk):
    today = timezone.localdate()
    account = get_account_for_user(request.user, pk, queryset=selectors.account_detail_queryset())
    influencers = list(
        account.influencers.select_related("reports_to").order_by("-is_active", "-influence", "name")
    )
    plan = plan_selectors.active_plan(account)
    history = scoring_selectors.score_history(account)
    months = selectors.monthly_series([account.pk], months=CHART_MONTHS, today=today)
    orders = selectors.order_summary(account, today=today)
    context = {
        "account": account,
        "today": today,
        "soon": cadence.due_soon_until(today),
        "can_edit": can_edit(request.user, account),
        "profile": getattr(account, "profile", None),
        "team": account.team_members.select_related("user"),
        "influencers": influencers,
        "org_chart": selectors.org_chart(influencers),
        "visits": selectors.visit_timeline(account, limit=20),
        "issues": account.service_issues.select_related("reported_by")[:20],
        "orders": orders,
        "months": months,
        "orders_figure": charts.orders_figure(months),
        "hierarchy": selectors.hierarchy_rollup(
            account, user=request.user, today=today, own_12m=(orders["revenue_12m"], orders["cost_12m"])
        ),
        "designations": account.designations.select_related("decided_by")[:5],
        "alerts": selectors.open_alerts(account),
        "history": history,
        "sparkline": charts.sparkline([row["score"] for row in history]),
        "why": scoring_selectors.score_explanation(account),
        "plan": plan,
        "plan_groups": plan_selectors.group_by_approach(plan.actions.all(), include_empty=False)
        if plan
        else [],
        "next_url": request.get_full_path(),
    }
    return render(request, "accounts/detail.html", context)


@staff_page
def account_create(request):
    form = AccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        account = form.save(commit=False)
        if not access.may_reassign(request.user):
            account.owner = request.user  # whoever else creates an account owns it
        account = services.account_update(account=account, data={}, by=request.user)
        messages.success(request, f"Account {account} created.")
        return redirect("accounts:detail", pk=account.pk)
    return render(request, "accounts/form.html", {"form": form, "title": "New account"})


@staff_page
def account_edit(request, pk):
    account = get_account_for_user(request.user, pk, write=True)
    form = AccountForm(request.POST or None, instance=Account.objects.get(pk=account.pk), user=request.user)
    if request.method == "POST" and form.is_valid():
        if not nothing_changed(request, form):
            services.account_update(account=account, data=form.cleaned_data, by=request.user)
            messages.success(request, "Account saved.")
        return redirect("accounts:detail", pk=account.pk)
    return render(
        request, "accounts/form.html", {"form": form, "account": account, "title": f"Edit {account}"}
    )


@fragment_view
@staff_page
def visit_create(request, pk):
    """The visit form and its POST. Asked for by htmx (the account page's quick log, when it is opened), only
    the form itself: the account page does not build a form most of its viewers never open."""
    account = get_account_for_user(request.user, pk, write=True)
    form = VisitForm(request.POST or None, account=account)
    next_url = _next_url(request, account.get_absolute_url())
    if request.method == "POST" and form.is_valid():
        services.visit_log(
            account=account, logged_by=request.user, replay_window=VISIT_REPLAY_WINDOW, **form.cleaned_data
        )
        messages.success(request, f"Visit to {account} logged.")
        return redirect(next_url)
    context = {"form": form, "account": account, "next_url": next_url}
    if request.method == "GET" and wants_fragment(request):
        return render(request, "accounts/visit_form.html#form", context | {"quick": True})
    return render(request, "accounts/visit_form.html", context)


@manager_page
def designation(request, pk):
    account = get_account_for_user(request.user, pk, write=True)
    form = DesignationForm(request.POST or None, initial={"is_key": "0" if account.is_key else "1"})
    if request.method == "POST" and form.is_valid():
        services.account_designate(account=account, decided_by=request.user, **form.cleaned_data)
        verdict = "now a key account" if form.cleaned_data["is_key"] else "no longer a key account"
        messages.success(request, f"{account} is {verdict}.")
        return redirect("accounts:detail", pk=account.pk)
    return render(request, "accounts/designation_form.html", {"form": form, "account": account})


@staff_page
def service_issue_create(request, pk):
    account = get_account_for_user(request.user, pk, write=True)
    form = ServiceIssueForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.account = account
        form.instance.reported_by = request.user
        form.save()
        messages.success(request, "Service problem recorded.")
        return redirect("accounts:detail", pk=account.pk)
    return render(
        request, "accounts/form.html", {"form": form, "account": account, "title": "Record a problem"}
    )


@staff_page
def team_add(request, pk):
    account = get_account_for_user(request.user, pk, write=True)
    form = TeamMemberForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        form.instance.account = account
        form.save()
        messages.success(request, f"{form.instance.user} joined the account team.")
        return redirect("accounts:detail", pk=account.pk)
    return render(
        request, "accounts/form.html", {"form": form, "account": account, "title": "Add to the team"}
    )


@require_POST
@staff_page
def team_remove(request, pk, member_pk):
    account = get_account_for_user(request.user, pk, write=True)
    deleted, _ = AccountTeamMember.objects.filter(account=account, pk=member_pk).delete()
    if deleted:
        messages.success(request, "Removed from the account team.")
    return redirect("accounts:detail", pk=account.pk)
