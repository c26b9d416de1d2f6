import django_filters

from profiles.models import BuyingInfluencer, BuyingRole


class InfluencerFilter(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter(help_text="People still at the account (true).")
    buying_role = django_filters.ChoiceFilter(choices=BuyingRole.choices)

    class Meta:
        model = BuyingInfluencer
        fields = []
