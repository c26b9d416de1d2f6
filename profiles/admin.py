from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from profiles.models import AccountProfile, BuyingInfluencer


@admin.register(AccountProfile)
class AccountProfileAdmin(SimpleHistoryAdmin):
    list_display = ["account", "updated_by", "updated_at"]
    raw_id_fields = ["account", "updated_by"]
    list_select_related = ["account", "updated_by"]


@admin.register(BuyingInfluencer)
class BuyingInfluencerAdmin(SimpleHistoryAdmin):
    list_display = ["name", "account", "title", "buying_role", "influence", "stance", "is_active"]
    list_filter = ["buying_role", "stance", "is_active"]
    search_fields = ["name", "account__name"]
    raw_id_fields = ["account", "reports_to"]
    list_select_related = ["account"]
