from django import forms
from django.utils import timezone

from accounts.models import Account
from kam.forms import DateInput
from plans import selectors
from plans.models import (
    APPROACH_AIMS,
    AccountPlan,
    ActionStatus,
    Approach,
    Objective,
    PlanAction,
    PlanStatus,
    one_active_plan_message,
)


class PlanForm(forms.ModelForm):
    # A plan is closed with its own button (AccountPlan.close), never by editing it.
    status = forms.ChoiceField(
        choices=[(PlanStatus.ACTIVE, "Active"), (PlanStatus.DRAFT, "Draft")],
        widget=forms.RadioSelect,
        help_text="An account has one active plan at a time: the one its account page shows.",
    )

    class Meta:
        model = AccountPlan
        fields = ["title", "period_start", "period_end", "status", "ambition"]
        widgets = {
            "period_start": DateInput(),
            "period_end": DateInput(),
            "ambition": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"period_start": "Period from", "period_end": "Period to", "ambition": "Ambition"}

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        self.instance.account = account
        if not self.is_bound and not self.instance.pk:
            year = timezone.localdate().year
            has_active = account.plans.filter(status=PlanStatus.ACTIVE).exists()
            self.initial.setdefault("title", f"{account.name} account plan {year}")
            self.initial.setdefault("period_start", timezone.localdate().replace(month=1, day=1))
            self.initial.setdefault("period_end", timezone.localdate().replace(month=12, day=31))
            self.initial.setdefault("status", PlanStatus.DRAFT if has_active else PlanStatus.ACTIVE)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", "The period must end on or after the day it starts.")
        if cleaned.get("status") == PlanStatus.ACTIVE:
            other = (
                AccountPlan.objects.filter(account=self.account, status=PlanStatus.ACTIVE)
                .exclude(pk=self.instance.pk)
                .first()
            )
            if other is not None:
                self.add_error("status", one_active_plan_message(self.account, other))
        return cleaned


class ObjectiveForm(forms.ModelForm):
    class Meta:
        model = Objective
        fields = ["title", "metric", "baseline", "target", "current", "due_date", "status"]
        widgets = {"due_date": DateInput()}
        labels = {
            "title": "Objective",
            "baseline": "Baseline (where we start)",
            "target": "Target",
            "current": "Current value",
            "due_date": "Due date",
        }
        help_texts = {
            "metric": "What is measured, e.g. “annual revenue (EUR)”, “CM %” or “decision makers met”.",
            "current": "Leave empty until you first measure it.",
        }

    def __init__(self, *args, plan: AccountPlan, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.plan = plan
        if not self.is_bound and not self.instance.pk and self.initial.get("due_date") is None:
            self.initial["due_date"] = plan.period_end

    def clean(self):
        cleaned = super().clean()
        baseline, target = cleaned.get("baseline"), cleaned.get("target")
        if baseline is not None and target is not None and baseline == target:
            self.add_error(
                "target", "The target must differ from the baseline, or there is nothing to achieve."
            )
        return cleaned


class ActionForm(forms.ModelForm):
    """Create or edit an action. Its status moves on the plan itself (ActionStatusForm), one rule in one place."""

    # Each approach with its aim in the label, so the rep sees why each one matters (DOMAIN.md section 7).
    approach = forms.ChoiceField(
        choices=[(value, f"{label}: {APPROACH_AIMS[value].lower()}") for value, label in Approach.choices],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose which of the five approaches this serves."},
    )

    class Meta:
        model = PlanAction
        fields = ["title", "approach", "owner", "due_date", "objective", "cost"]
        widgets = {"due_date": DateInput()}
        labels = {
            "title": "Action",
            "approach": "Approach",
            "owner": "Owner",
            "objective": "Serves the objective",
            "cost": "Cost",
        }
        help_texts = {
            "owner": "Anyone on the account team, in any function.",
            "cost": "What the action costs us, for the return on this account.",
        }

    def __init__(self, *args, plan: AccountPlan, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.plan = plan
        team = selectors.account_team_users(plan.account)
        owner = self.fields["owner"]
        owner.queryset = team
        owner.required = True
        owner.empty_label = "Choose someone on the team"
        owner.error_messages = {
            "required": "Choose who owns this action.",
            "invalid_choice": "Choose someone on the account team: the owner or a team member.",
        }
        self.fields["objective"].queryset = plan.objectives.order_by("due_date", "id")
        self.fields["objective"].empty_label = "None in particular"
        self.fields["approach"].error_messages["required"] = (
            "Choose which of the five approaches this serves."
        )
        if not self.is_bound and not self.instance.pk and self.initial.get("owner") is None:
            mine = user is not None and team.filter(pk=user.pk).exists()
            self.initial["owner"] = user.pk if mine else plan.account.owner_id

    def clean_cost(self):
        cost = self.cleaned_data.get("cost")
        if cost is not None and cost < 0:
            raise forms.ValidationError("A cost cannot be negative.")
        return cost


class ActionStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=ActionStatus.choices,
        error_messages={
            "required": "Choose a status.",
            "invalid_choice": "Choose one of: " + ", ".join(label for _, label in ActionStatus.choices) + ".",
        },
    )
