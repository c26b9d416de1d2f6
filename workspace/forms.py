from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts import access
from accounts.cadence import CADENCE_DAYS_MESSAGE, MAX_CADENCE_DAYS
from accounts.models import (
    MANAGER_RATINGS,
    Account,
    AccountTeamMember,
    Role,
    ServiceIssue,
    User,
    Visit,
)
from kam.forms import DateInput
from profiles.models import BuyingInfluencer


class VisitForm(forms.ModelForm):
    influencers = forms.ModelMultipleChoiceField(
        queryset=BuyingInfluencer.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Who did you meet?",
    )

    class Meta:
        model = Visit
        fields = ["date", "kind", "influencers", "summary", "next_steps", "follow_up_date", "cost"]
        widgets = {
            "date": DateInput(),
            "follow_up_date": DateInput(),
            "summary": forms.Textarea(attrs={"rows": 3}),
            "next_steps": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"kind": "Kind of contact", "summary": "What happened", "follow_up_date": "Follow up on"}

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cost"].label = f"Cost to serve, {settings.KAM_CURRENCY}"
        self.fields["cost"].widget.attrs.update({"inputmode": "decimal", "min": "0", "step": "0.01"})
        self.fields["influencers"].queryset = account.influencers.active().order_by("name")
        if not self.is_bound:
            self.initial.setdefault("date", timezone.localdate())

    def clean_date(self):
        date = self.cleaned_data["date"]
        if date > timezone.localdate():
            raise forms.ValidationError("A visit cannot be in the future; plan it as a follow-up instead.")
        return date

    def clean(self):
        cleaned = super().clean()
        date, follow_up = cleaned.get("date"), cleaned.get("follow_up_date")
        if date and follow_up and follow_up < date:
            self.add_error("follow_up_date", "The follow-up date must be on or after the visit.")
        return cleaned


HIDDEN_PARENT = "A group you cannot see"


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = [
            "name",
            "reference",
            "industry",
            "country",
            "region",
            "parent",
            "owner",
            "status",
            "image_rating",
            "partnership_rating",
            "strategic_rating",
            "cadence_days",
        ]
        labels = {
            "image_rating": "Image / prestige (1-5)",
            "partnership_rating": "Willingness to partner (1-5)",
            "strategic_rating": "Strategic importance (0-5)",
            "cadence_days": "Visit every … days",
        }

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        visible = Account.objects.visible_to(user)
        parent_id = self.instance.parent_id
        self.parent_hidden = bool(parent_id) and not visible.filter(pk=parent_id).exists()
        if self.parent_hidden:
            # The parent is an account this user cannot see: it is neither offered nor named, and it is
            # kept as it is (a select without it would render empty and saving would clear the parent).
            self.fields["parent"] = forms.CharField(
                label=self.fields["parent"].label,
                required=False,
                disabled=True,
                initial=HIDDEN_PARENT,
                help_text="Part of a group you cannot see; only a manager can change it.",
            )
            self.initial["parent"] = HIDDEN_PARENT  # not the parent's id: that is not for this user either
        else:
            parents = visible.order_by("name")
            if self.instance.pk:
                parents = parents.exclude(pk=self.instance.pk)
            self.fields["parent"].queryset = parents
        # The current owner stays a valid value even once deactivated, or nobody but a manager could save.
        owners = Q(is_active=True, role__in=[Role.REP, Role.MANAGER])
        if self.instance.owner_id:
            owners |= Q(pk=self.instance.owner_id)
        self.fields["owner"].queryset = User.objects.filter(owners).order_by("first_name", "last_name")
        if not access.may_reassign(user):
            self.fields["owner"].disabled = True  # a disabled field keeps the stored value
        if not access.may_rate(user):
            for name in MANAGER_RATINGS:
                self.fields[name].disabled = True
                self.fields[name].help_text = "A manager's rating."
        cadence = self.fields["cadence_days"]
        cadence.widget.attrs.update(min=1, max=MAX_CADENCE_DAYS)
        cadence.error_messages.update(min_value=CADENCE_DAYS_MESSAGE, max_value=CADENCE_DAYS_MESSAGE)
        cadence.help_text = (
            f"1 to {MAX_CADENCE_DAYS:,} days (ten years); leave empty to use the tier's default."
        )

    def clean(self):
        cleaned = super().clean()
        if self.parent_hidden:
            cleaned.pop("parent", None)  # the text shown in its place is not a value to save
        return cleaned

    def clean_cadence_days(self):
        days = self.cleaned_data["cadence_days"]
        if days is not None and not 1 <= days <= MAX_CADENCE_DAYS:
            raise forms.ValidationError(CADENCE_DAYS_MESSAGE)
        return days

    def clean_reference(self):
        reference = self.cleaned_data["reference"].strip()
        if reference and Account.objects.exclude(pk=self.instance.pk).filter(reference=reference).exists():
            raise forms.ValidationError("Another account already has this reference.")
        return reference

    def clean_country(self):
        country = self.cleaned_data["country"].strip().upper()
        if country and (len(country) != 2 or not country.isalpha()):
            raise forms.ValidationError("Use the two-letter ISO country code, e.g. NL or DE.")
        return country


class DesignationForm(forms.Form):
    is_key = forms.TypedChoiceField(
        choices=[("1", "Key account"), ("0", "Not a key account")],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
        label="Decision",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Reason",
        help_text="Why: the evidence behind the decision (score, margin, strategy).",
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if len(reason) < 10:
            raise forms.ValidationError("Give a reason of at least a few words; it is kept in the audit log.")
        return reason


class ServiceIssueForm(forms.ModelForm):
    class Meta:
        model = ServiceIssue
        fields = ["kind", "severity", "opened_on", "resolved_on", "description"]
        widgets = {
            "opened_on": DateInput(),
            "resolved_on": DateInput(),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and not self.instance.pk:
            self.initial.setdefault("opened_on", timezone.localdate())

    def clean(self):
        cleaned = super().clean()
        opened, resolved = cleaned.get("opened_on"), cleaned.get("resolved_on")
        today = timezone.localdate()
        if opened and opened > today:
            self.add_error("opened_on", "A problem cannot be opened in the future.")
        if opened and resolved and resolved < opened:
            self.add_error("resolved_on", "It cannot be resolved before it was opened.")
        return cleaned


class TeamMemberForm(forms.ModelForm):
    class Meta:
        model = AccountTeamMember
        fields = ["user", "function"]

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["user"].queryset = User.objects.filter(is_active=True).exclude(role="integration")

    def clean_user(self):
        user = self.cleaned_data["user"]
        if AccountTeamMember.objects.filter(account=self.account, user=user).exists():
            raise forms.ValidationError("This person is already on the account team.")
        return user
