from django.contrib import messages
from django.shortcuts import redirect, render

from accounts.access import get_account_for_user, get_object_for_user
from kam.web import fragment_view, nothing_changed, staff_page, wants_fragment
from profiles.forms import InfluencerForm, ProfileForm
from profiles.models import PROFILE_QUESTIONS, AccountProfile, BuyingInfluencer
from profiles.services import profile_update


@fragment_view
@staff_page
def profile_edit(request, pk):
    """Edit the profile: a page of its own, or in place of the account page's profile card with htmx."""
    account = get_account_for_user(request.user, pk, write=True)
    profile = AccountProfile.objects.filter(account=account).first() or AccountProfile(account=account)
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        profile = profile_update(account=account, data=form.cleaned_data, by=request.user)
        if wants_fragment(request):
            context = {"account": account, "profile": profile, "can_edit": True, "saved": True}
            return render(request, "accounts/includes/profile_card.html", context)
        messages.success(request, "Profile saved.")
        return redirect("accounts:detail", pk=account.pk)
    template = (
        "profiles/profile_form.html#inline" if wants_fragment(request) else "profiles/profile_form.html"
    )
    return render(request, template, {"form": form, "account": account})


@staff_page
def profile_history(request, pk):
    account = get_account_for_user(request.user, pk)
    records = list(
        AccountProfile.history.filter(account_id=account.pk)
        .select_related("history_user")
        .order_by("-history_date")[:50]
    )
    changes = []
    for newer, older in zip(records, [*records[1:], None], strict=False):
        if older is None:
            fields = [f for f in PROFILE_QUESTIONS if getattr(newer, f)]
        else:
            fields = [c.field for c in newer.diff_against(older).changes if c.field in PROFILE_QUESTIONS]
        changes.append(
            {
                "record": newer,
                "fields": [(PROFILE_QUESTIONS[f], getattr(newer, f), getattr(older, f, "")) for f in fields],
            }
        )
    return render(request, "profiles/profile_history.html", {"account": account, "changes": changes})


@staff_page
def influencer_create(request, pk):
    account = get_account_for_user(request.user, pk, write=True)
    form = InfluencerForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        person = form.save()
        messages.success(request, f"{person.name} added to the buying centre.")
        return redirect("accounts:detail", pk=account.pk)
    return render(request, "profiles/influencer_form.html", {"form": form, "account": account})


@staff_page
def influencer_edit(request, pk):
    person = get_object_for_user(request.user, BuyingInfluencer, pk, write=True)
    form = InfluencerForm(request.POST or None, instance=person, account=person.account)
    if request.method == "POST" and form.is_valid():
        if not nothing_changed(request, form):
            form.save()
            messages.success(request, f"{person.name} saved.")
        return redirect("accounts:detail", pk=person.account_id)
    return render(request, "profiles/influencer_form.html", {"form": form, "account": person.account})
