from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from plans.models import AccountPlan, Objective, PlanAction


class ObjectiveInline(admin.TabularInline):
    model = Objective
    extra = 0


@admin.register(AccountPlan)
class AccountPlanAdmin(SimpleHistoryAdmin):
    list_display = ["title", "account", "period_start", "period_end", "status"]
    list_filter = ["status"]
    raw_id_fields = ["account"]
    list_select_related = ["account"]
    inlines = [ObjectiveInline]


@admin.register(PlanAction)
class PlanActionAdmin(SimpleHistoryAdmin):
    list_display = ["title", "plan", "approach", "owner", "due_date", "status"]
    list_filter = ["approach", "status"]
    raw_id_fields = ["plan", "objective", "owner"]
    list_select_related = ["plan", "owner"]
