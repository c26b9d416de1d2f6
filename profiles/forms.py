from django import forms

from accounts.models import Account
from profiles.models import PROFILE_QUESTIONS, AccountProfile, BuyingInfluencer


class ProfileForm(forms.ModelForm):
    class Meta:
        model = AccountProfile
        fields = list(PROFILE_QUESTIONS)
        labels = PROFILE_QUESTIONS
        widgets = {field: forms.Textarea(attrs={"rows": 3}) for field in PROFILE_QUESTIONS}


class InfluencerForm(forms.ModelForm):
    class Meta:
        model = BuyingInfluencer
        fields = [
            "name",
            "title",
            "function",
            "site",
            "email",
            "phone",
            "buying_role",
            "influence",
            "stance",
            "relationship_strength",
            "reports_to",
            "is_active",
        ]
        labels = {
            "buying_role": "Role in the buying decision",
            "influence": "Influence (1-5)",
            "stance": "Stance towards us",
            "relationship_strength": "Strength of our relationship (1-5)",
            "is_active": "Still at the account",
        }

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.account = account
        bosses = account.influencers.order_by("name")
        if self.instance.pk:
            bosses = bosses.exclude(pk=self.instance.pk)
        self.fields["reports_to"].queryset = bosses
