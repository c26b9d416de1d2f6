"""Reads: querysets already scoped to the user and joined for the template or serializer that shows them."""

import datetime
import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth

from accounts import access
from accounts.models import QUALIFYING_VISIT_KINDS, Account, CadenceAlert, Order, Tier, User, Visit
from kam.web import int_or_none

ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=2))

SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "score": (F("score").asc(nulls_first=True), "id"),
    "-score": (F("score").desc(nulls_last=True), "id"),
    "rank": (F("rank").asc(nulls_last=True), "id"),
    "due": (F("next_contact_due").asc(nulls_last=True), "id"),
    "last_contact": (F("last_contact_date").desc(nulls_last=True), "id"),
}


@dataclass(frozen=True)
class AccountFilters:
    q: str = ""
    mine: bool = False
    tier: str = ""
    key: str = ""  # "yes", "no" or ""
    owner: int | None = None
    region: str = ""
    industry: str = ""
    lapsed: bool = False
    sort: str = "name"

    @classmethod
    def from_query(cls, get) -> "AccountFilters":
        """The filters a list or export URL's query string asks for; anything unknown is ignored."""
        return cls(
            q=get.get("q", "").strip()[:100],
            mine=get.get("mine") == "1",
            tier=get.get("tier", "") if get.get("tier", "") in Tier.values else "",
            key=get.get("key", "") if get.get("key") in ("yes", "no") else "",
            owner=int_or_none(get.get("owner")),
            region=get.get("region", "")[:100],
            industry=get.get("industry", "")[:100],
            lapsed=get.get("lapsed") == "1",
            sort=get.get("sort", "name") if get.get("sort") in SORTS else "name",
        )


def account_list(*, user, filters: AccountFilters, today: datetime.date) -> QuerySet[Account]:
    qs = Account.objects.visible_to(user).select_related("owner")
    if filters.q:
        qs = qs.filter(Q(name__icontains=filters.q) | Q(reference__iexact=filters.q))
    if filters.mine:
        qs = qs.filter(Q(owner=user) | Q(team_members__user=user)).distinct()
    if filters.tier:
        qs = qs.filter(tier=filters.tier)
    if filters.key == "yes":
        qs = qs.filter(is_key=True)
    elif filters.key == "no":
        qs = qs.filter(is_key=False)
    if filters.owner:
        qs = qs.filter(owner_id=filters.owner)
    if filters.region:
        qs = qs.filter(region=filters.region)
    if filters.industry:
        qs = qs.filter(industry=filters.industry)
    if filters.lapsed:
        qs = qs.cadence_lapsed(today)
    return qs.order_by(*SORTS.get(filters.sort, SORTS["name"]))


def accounts_version() -> tuple:
    """A cheap fingerprint of the account table: the newest change and the highest id.

    Two index lookups whatever the portfolio size. Every service that changes an account saves `updated_at`;
    a deletion is not seen, so whatever is cached on this fingerprint also expires after a short time.
    """
    found = Account.objects.order_by().aggregate(newest=Max("updated_at"), last=Max("id"))
    return (found["newest"], found["last"])


def account_filter_choices(*, user) -> dict[str, list]:
    """Distinct regions, industries and owners among the accounts the user can see.

    The DISTINCTs scan every visible account, so the answer is cached per user until an account changes
    (or KAM_DASHBOARD_CACHE_SECONDS pass, for team changes that touch no account).
    """
    key = "filter-choices:" + hashlib.sha256(repr((user.pk, accounts_version())).encode()).hexdigest()
    choices = cache.get(key)
    if choices is None:
        choices = _account_filter_choices(user)
        cache.set(key, choices, settings.KAM_DASHBOARD_CACHE_SECONDS)
    return choices


def _account_filter_choices(user) -> dict[str, list]:
    visible = Account.objects.visible_to(user)
    return {
        "regions": list(
            visible.exclude(region="").order_by("region").values_list("region", flat=True).distinct()
        ),
        "industries": list(
            visible.exclude(industry="").order_by("industry").values_list("industry", flat=True).distinct()
        ),
        # The owners who own a visible account: one index probe per user, not a join over every account.
        "owners": list(
            User.objects.filter(Exists(visible.filter(owner=OuterRef("pk"))))
            .order_by("first_name", "last_name")
            .values_list("id", "first_name", "last_name", "username")
        ),
    }


def account_detail_queryset() -> QuerySet[Account]:
    return Account.objects.select_related(
        "owner", "parent", "key_decided_by", "ratings_by", "profile", "profile__updated_by"
    )


def order_summary(account: Account, *, today: datetime.date) -> dict:
    """Trailing-12-month and prior-12-month revenue and CM, aggregated in SQL."""
    start_12 = today - datetime.timedelta(days=365)
    start_24 = today - datetime.timedelta(days=730)
    agg = Order.objects.filter(account=account, date__lte=today).aggregate(
        revenue_12m=Coalesce(Sum("revenue", filter=Q(date__gt=start_12)), ZERO),
        cost_12m=Coalesce(Sum("variable_cost", filter=Q(date__gt=start_12)), ZERO),
        revenue_prev=Coalesce(Sum("revenue", filter=Q(date__gt=start_24, date__lte=start_12)), ZERO),
        orders_12m=Count("id", filter=Q(date__gt=start_12)),
        last_order=Max("date"),
        revenue_total=Coalesce(Sum("revenue"), ZERO),
    )
    agg["cm_12m"] = agg["revenue_12m"] - agg["cost_12m"]
    agg["cm_pct_12m"] = agg["cm_12m"] / agg["revenue_12m"] if agg["revenue_12m"] else None
    agg["growth"] = (
        (agg["revenue_12m"] - agg["revenue_prev"]) / agg["revenue_prev"] if agg["revenue_prev"] else None
    )
    # Return on customer investment (DOMAIN.md section 2): CM per unit of the cost to serve logged on the
    # account's visits in the same 12 months; unknown until a cost is logged.
    costs = Visit.objects.filter(account=account, date__gt=start_12, date__lte=today).aggregate(
        cost_to_serve_12m=Sum("cost"), costed_visits_12m=Count("id", filter=Q(cost__isnull=False))
    )
    agg.update(costs)
    cost = costs["cost_to_serve_12m"]
    agg["roci"] = agg["cm_12m"] / cost if cost else None  # None too when every cost logged was 0
    return agg


def monthly_orders(account_ids, *, since: datetime.date) -> list[dict]:
    """Revenue, variable cost and CM per month for one account or a hierarchy (one grouped query)."""
    rows = (
        Order.objects.filter(account_id__in=account_ids, date__gte=since)
        .annotate(month=TruncMonth("date"))
        .values("month")
        .annotate(revenue=Sum("revenue"), cost=Sum("variable_cost"))
        .order_by("month")
    )
    out = []
    for row in rows:
        cm = row["revenue"] - row["cost"]
        out.append(
            {
                "month": row["month"],
                "revenue": row["revenue"],
                "cm": cm,
                "cm_pct": (cm / row["revenue"]) if row["revenue"] else None,
            }
        )
    return out


def with_parent_visibility(queryset: QuerySet[Account], *, user) -> QuerySet[Account]:
    """Annotate `parent_visible`: may `user` see the account's parent? (A rep may serve a subsidiary
    without seeing its group: then the parent is neither named nor numbered to them.) One subquery."""
    if access.sees_everything(user):
        return queryset.annotate(parent_visible=Value(True))
    parents = Account.objects.visible_to(user).filter(pk=OuterRef("parent_id"))
    return queryset.annotate(parent_visible=Exists(parents))


def hierarchy_rollup(
    account: Account, *, user, today: datetime.date, own_12m: tuple[Decimal, Decimal] | None = None
) -> dict:
    """Parent, visible children and the 12-month revenue and CM of the account plus all its descendants.

    ``own_12m``: the account's own 12-month (revenue, variable cost), when the caller has them already
    (order_summary): an account without subsidiaries, most of them, then costs no query for its totals.
    """
    visible = Account.objects.visible_to(user)
    children = list(visible.filter(parent=account).order_by("name"))
    # A rep may see a subsidiary without its parent: then the parent is not named (it does not exist for them).
    parent = account.parent if account.parent_id and visible.filter(pk=account.parent_id).exists() else None
    # Walk down level by level (one query per level below the children; hierarchies are shallow), through
    # visible accounts only: a rep must not learn the margins of subsidiaries they do not serve.
    frontier = {child.pk for child in children}
    family = {account.pk} | frontier
    while frontier:
        frontier = set(visible.filter(parent_id__in=frontier).values_list("id", flat=True)) - family
        family |= frontier
    if family == {account.pk} and own_12m is not None:
        revenue, cost = own_12m
    else:
        start = today - datetime.timedelta(days=365)
        totals = Order.objects.filter(account_id__in=family, date__gt=start, date__lte=today).aggregate(
            revenue=Coalesce(Sum("revenue"), ZERO), cost=Coalesce(Sum("variable_cost"), ZERO)
        )
        revenue, cost = totals["revenue"], totals["cost"]
    cm = revenue - cost
    return {
        "parent": parent,
        # Part of a group this user cannot see: said, but never named.
        "parent_hidden": bool(account.parent_id) and parent is None,
        "children": children,
        "family_size": len(family),
        "revenue_12m": revenue,
        "cm_12m": cm,
        "cm_pct_12m": cm / revenue if revenue else None,
    }


def visit_timeline(account: Account, *, limit: int = 50) -> QuerySet[Visit]:
    return account.visits.select_related("logged_by").prefetch_related("influencers")[:limit]


def last_qualifying_visit_date(account_id: int) -> datetime.date | None:
    return Visit.objects.filter(account_id=account_id, kind__in=QUALIFYING_VISIT_KINDS).aggregate(
        d=Max("date")
    )["d"]


def open_alerts(account: Account) -> list:
    """The account's open cadence alerts (lapsed cadence, coverage gap)."""
    return list(CadenceAlert.objects.open().filter(account=account).select_related("escalated_to"))


def monthly_series(account_ids, *, months: int, today: datetime.date) -> list[dict]:
    """Revenue, CM and CM % of the last `months` calendar months up to today's, months without orders as zero
    (one grouped query)."""
    back = today.year * 12 + today.month - 1 - (months - 1)
    start = datetime.date(back // 12, back % 12 + 1, 1)
    return month_series(monthly_orders(account_ids, since=start), start=start, end=today)


def month_series(rows: list[dict], *, start: datetime.date, end: datetime.date) -> list[dict]:
    """monthly_orders() rows with the months without orders filled in as zero, from `start` to `end`."""
    by_month = {row["month"]: row for row in rows}
    out, month = [], start.replace(day=1)
    zero = Decimal("0")
    while month <= end:
        out.append(by_month.get(month) or {"month": month, "revenue": zero, "cm": zero, "cm_pct": None})
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return out


@dataclass
class OrgNode:
    person: object
    reports: list["OrgNode"]


def org_chart(people) -> list[OrgNode]:
    """Reporting lines as a forest, from influencers already loaded (no query).

    The roots are the people who report to nobody on the list. Loops (possible in imported data, though the
    form refuses them) are broken where they are found, so everyone appears exactly once.
    """
    people = list(people)
    by_boss: dict[int | None, list] = {}
    ids = {p.pk for p in people}
    for person in people:
        boss = person.reports_to_id if person.reports_to_id in ids else None
        by_boss.setdefault(boss, []).append(person)
    placed: set[int] = set()

    def build(person) -> OrgNode:
        placed.add(person.pk)
        return OrgNode(person, [build(p) for p in by_boss.get(person.pk, []) if p.pk not in placed])

    roots = [build(p) for p in by_boss.get(None, [])]
    for person in people:  # whoever sits in a loop has no root above them: start from them
        if person.pk not in placed:
            roots.append(build(person))
    return roots
