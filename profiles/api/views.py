"""The account profile and its buying influencers over REST (read-only: they are kept in the app)."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.response import Response

from accounts.api.base import AccountChildViewSet
from profiles.api.filters import InfluencerFilter
from profiles.api.serializers import InfluencerSerializer, ProfileSerializer
from profiles.models import PROFILE_QUESTIONS, AccountProfile, BuyingInfluencer

INFLUENCER_EXAMPLE = {
    "id": 118,
    "account": 42,
    "reference": "",
    "name": "Marieke Jansen",
    "title": "Head of Purchasing",
    "function": "Purchasing",
    "site": "Rotterdam",
    "email": "m.jansen@noordzee.example",
    "phone": "",
    "buying_role": "decision_maker",
    "influence": 5,
    "stance": 1,
    "relationship_strength": 4,
    "reports_to": None,
    "is_active": True,
    "last_contact_date": "2026-11-20",
}


@extend_schema_view(
    list=extend_schema(
        summary="An account's buying influencers",
        description="The decision-making unit: role in the buying decision, influence (1-5), stance towards "
        "us (-2 opponent to 2 champion), relationship strength and reporting line. Most influential first.",
        examples=[OpenApiExample("A decision maker", value=INFLUENCER_EXAMPLE, response_only=True)],
    )
)
class AccountInfluencerViewSet(mixins.ListModelMixin, AccountChildViewSet):
    serializer_class = InfluencerSerializer
    queryset = BuyingInfluencer.objects.all()
    filterset_class = InfluencerFilter

    def get_children(self, account):
        return account.influencers.order_by("-is_active", "-influence", "name", "id")


class AccountProfileViewSet(AccountChildViewSet):
    serializer_class = ProfileSerializer
    queryset = AccountProfile.objects.all()
    pagination_class = None

    @extend_schema(
        summary="An account's profile",
        description="The living document about the customer's business: its mission, segments, value "
        "proposition, competitors, plans and needs. Unanswered questions are empty strings.",
        examples=[
            OpenApiExample(
                "A profile",
                value={
                    "account": 42,
                    **dict.fromkeys(PROFILE_QUESTIONS, ""),
                    "mission": "Feed the region with fresh food.",
                    "completeness": 0.11,
                    "questions": PROFILE_QUESTIONS,
                    "updated_by": 7,
                    "updated_at": "2026-10-12T14:00:00Z",
                },
                response_only=True,
            )
        ],
    )
    def retrieve(self, request, account_pk=None):
        account = self.get_account()
        profile = AccountProfile.objects.filter(account=account).first() or AccountProfile(account=account)
        return Response(ProfileSerializer(profile).data)
