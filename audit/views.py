"""The audit trail pages: /audit/ (recent changes, filtered) and /audit/<kind>/<id>/ (one record). Managers only."""

from django.db.models import Q
from django.http import Http404
from django.shortcuts import render

from audit.forms import AuditFilterForm
from audit.selectors import PAGE_SIZE, TRACKED, recent_changes, record_history
from kam.web import manager_page


@manager_page
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    valid = form.is_valid() if form.is_bound else True
    data = form.cleaned_data if form.is_bound and valid else {}
    kinds = [TRACKED[data["kind"]]] if data.get("kind") else list(TRACKED.values())
    page = data.get("page") or 1
    condition = form.history_filter() if data else Q()
    entries, has_next = recent_changes(kinds=kinds, condition=condition, page=page) if valid else ([], False)
    context = {"form": form, "entries": entries, "page": page, "has_next": has_next, "page_size": PAGE_SIZE}
    return render(request, "audit/list.html", context)


@manager_page
def audit_record(request, kind, pk):
    tracked = TRACKED.get(kind)
    if tracked is None:
        raise Http404("No such kind of record.")
    entries = record_history(tracked, pk)
    current = tracked.model._default_manager.filter(pk=pk).first()
    if not entries and current is None:
        raise Http404("No such record, and no history of one.")
    # Records written in bulk (the demo data, some imports) may have no history yet.
    title = entries[0].title if entries else str(current)
    account_id = entries[0].account_id if entries else getattr(current, "account_id", None)
    if tracked.slug == "account":
        account_id = pk
    context = {
        "kind": tracked,
        "entries": entries,
        "title": title,
        "account_id": account_id,
        "current": current,
    }
    return render(request, "audit/record.html", context)
