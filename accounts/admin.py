from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from simple_history.admin import SimpleHistoryAdmin

from accounts.models import Account, AccountTeamMember, KeyDesignation, Order, ServiceIssue, User, Visit
from accounts.services import tier_cadence_default


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = [
        "username",
        "first_name",
        "last_name",
        "role",
        "manager",
        "monthly_visit_capacity",
        "is_active",
    ]
    list_filter = ["role", "is_active", "is_superuser"]
    fieldsets = [*BaseUserAdmin.fieldsets, ("KAM", {"fields": ["role", "manager", "monthly_visit_capacity"]})]
    add_fieldsets = [*BaseUserAdmin.add_fieldsets, ("KAM", {"fields": ["role", "manager"]})]


class TeamInline(admin.TabularInline):
    model = AccountTeamMember
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Account)
class AccountAdmin(SimpleHistoryAdmin):
    list_display = ["name", "reference", "owner", "tier", "rank", "score", "is_key", "next_contact_due"]
    list_filter = ["is_key", "tier", "status", "region"]
    search_fields = ["name", "reference"]
    raw_id_fields = ["parent", "owner", "key_decided_by", "ratings_by"]
    list_select_related = ["owner"]
    inlines = [TeamInline]

    def save_model(self, request, obj, form, change):
        # Status, key flag and override are editable here: keep the stored cadence the rule's (accounts.cadence).
        obj.refresh_cadence(tier_cadence_default(obj.tier))
        super().save_model(request, obj, form, change)


@admin.register(KeyDesignation)
class KeyDesignationAdmin(admin.ModelAdmin):
    list_display = ["account", "is_key", "decided_by", "decided_at"]
    raw_id_fields = ["account", "decided_by"]
    list_select_related = ["account", "decided_by"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["account", "reference", "date", "revenue", "variable_cost"]
    date_hierarchy = "date"
    search_fields = ["reference", "account__name"]
    raw_id_fields = ["account"]
    list_select_related = ["account"]


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    list_display = ["account", "date", "kind", "logged_by"]
    list_filter = ["kind"]
    raw_id_fields = ["account", "logged_by", "influencers"]
    list_select_related = ["account", "logged_by"]


@admin.register(ServiceIssue)
class ServiceIssueAdmin(admin.ModelAdmin):
    list_display = ["account", "kind", "severity", "opened_on", "resolved_on"]
    list_filter = ["kind", "severity"]
    raw_id_fields = ["account", "reported_by"]
    list_select_related = ["account"]
