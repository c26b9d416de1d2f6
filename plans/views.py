"""Account plans in the browser: the plan page, its objectives and actions, and the in-place action status.

Every fetch goes through accounts.access; a closed plan stays as the record of its period and is read-only.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.access import can_edit, get_account_for_user, get_object_for_user
from kam.web import fragment_view, nothing_changed, staff_page, wants_fragment
from plans import selectors
from plans.forms import ActionForm, ActionStatusForm, ObjectiveForm, PlanForm
from plans.models import AccountPlan, Approach, Objective, PlanAction, PlanStatus
from plans.services import plan_save

CLOSED = "This plan is closed: it stays as the record of its period. Start a new plan instead."


def _next_url(request, default: str) -> str:
    """Where to go back to: the `next` the page sent, if it points into this site."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return default


def _plan_url(plan) -> str:
    return reverse("plans:detail", args=[plan.pk])


def _refuse_if_closed(request, plan):
    if plan.status == PlanStatus.CLOSED:
        messages.error(request, CLOSED)
        return redirect(_plan_url(plan))
    return None


@staff_page
def plan_list(request, pk):
    account = get_account_for_user(request.user, pk)
    context = {
        "account": account,
        "plans": selectors.account_plans(account),
        "can_edit": can_edit(request.user, account),
    }
    return render(request, "plans/list.html", context)


@staff_page
def plan_detail(request, pk):
    plan = get_object_for_user(request.user, AccountPlan, pk)
    plan = selectors.plan_with_contents(plan.pk)
    today = timezone.localdate()
    actions = list(plan.actions.all())
    context = {
        "plan": plan,
        "account": plan.account,
        "objectives": plan.objectives.all(),
        "groups": selectors.group_by_approach(actions),
        "totals": selectors.plan_totals(actions, today=today),
        "can_edit": plan.status != PlanStatus.CLOSED and can_edit(request.user, plan.account),
        "today": today,
        "next_url": request.get_full_path(),
    }
    return render(request, "plans/detail.html", context)


@staff_page
def plan_create(request, pk):
    account = get_account_for_user(request.user, pk, write=True)
    form = PlanForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            plan = plan_save(plan=form.instance)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Plan “{plan.title}” created. Add its objectives and actions.")
            return redirect(_plan_url(plan))
    return render(request, "plans/form.html", {"form": form, "account": account, "title": "New account plan"})


@staff_page
def plan_edit(request, pk):
    plan = get_object_for_user(request.user, AccountPlan, pk, write=True)
    if refused := _refuse_if_closed(request, plan):
        return refused
    form = PlanForm(request.POST or None, instance=plan, account=plan.account)
    if request.method == "POST" and form.is_valid():
        if nothing_changed(request, form):
            return redirect(_plan_url(plan))
        try:
            plan_save(plan=form.instance)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Plan saved.")
            return redirect(_plan_url(plan))
    context = {"form": form, "account": plan.account, "plan": plan, "title": f"Edit {plan.title}"}
    return render(request, "plans/form.html", context)


@require_POST
@staff_page
def plan_close(request, pk):
    plan = get_object_for_user(request.user, AccountPlan, pk, write=True)
    try:
        plan.close(when=timezone.now())
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, f"Plan “{plan.title}” closed. Its objectives and actions stay on record.")
    return redirect(_plan_url(plan))


@staff_page
def objective_create(request, pk):
    plan = get_object_for_user(request.user, AccountPlan, pk, write=True)
    return _objective_form(request, plan, Objective(plan=plan), "Add an objective")


@staff_page
def objective_edit(request, pk):
    objective = get_object_for_user(request.user, Objective, pk, write=True, account_path="plan__account")
    return _objective_form(request, objective.plan, objective, f"Edit {objective.title}")


def _objective_form(request, plan, objective, title):
    if refused := _refuse_if_closed(request, plan):
        return refused
    form = ObjectiveForm(request.POST or None, instance=objective, plan=plan)
    if request.method == "POST" and form.is_valid():
        if not nothing_changed(request, form):
            form.save()
            messages.success(request, f"Objective “{form.instance.title}” saved.")
        return redirect(_plan_url(plan))
    return render(
        request, "plans/form.html", {"form": form, "account": plan.account, "plan": plan, "title": title}
    )


@staff_page
def action_create(request, pk):
    plan = get_object_for_user(request.user, AccountPlan, pk, write=True)
    action = PlanAction(plan=plan)
    if request.GET.get("approach") in Approach.values:
        action.approach = request.GET["approach"]
    return _action_form(request, plan, action, "Add an action")


@staff_page
def action_edit(request, pk):
    action = get_object_for_user(request.user, PlanAction, pk, write=True, account_path="plan__account")
    return _action_form(request, action.plan, action, f"Edit {action.title}")


def _action_form(request, plan, action, title):
    if refused := _refuse_if_closed(request, plan):
        return refused
    form = ActionForm(request.POST or None, instance=action, plan=plan, user=request.user)
    if request.method == "POST" and form.is_valid():
        if not nothing_changed(request, form):
            form.save()
            messages.success(request, f"Action “{form.instance.title}” saved.")
        return redirect(_next_url(request, _plan_url(plan)))
    context = {"form": form, "account": plan.account, "plan": plan, "title": title}
    return render(request, "plans/form.html", context)


@fragment_view
@require_POST
@staff_page
def action_status(request, pk):
    """Move an action on, in place: with htmx the updated row comes back; without, the page it came from."""
    action = get_object_for_user(request.user, PlanAction, pk, write=True, account_path="plan__account")
    form = ActionStatusForm(request.POST)
    error = None
    if action.plan.status == PlanStatus.CLOSED:
        error = CLOSED
    elif form.is_valid():
        action.set_status(form.cleaned_data["status"], today=timezone.localdate())
    else:
        error = form.errors["status"][0]
    next_url = _next_url(request, _plan_url(action.plan))
    if wants_fragment(request):
        context = {
            "action": action,
            "error": error,
            "saved": error is None,
            "can_edit": action.plan.status != PlanStatus.CLOSED,
            "show_account": request.POST.get("show_account") == "1",
            "today": timezone.localdate(),
            "next_url": next_url,
        }
        return render(request, "plans/detail.html#action", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"“{action.title}” is now {action.get_status_display().lower()}.")
    return redirect(next_url)
