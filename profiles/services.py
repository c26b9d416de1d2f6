from django.db import transaction

from accounts.models import Account, User
from profiles.models import AccountProfile


@transaction.atomic
def profile_update(*, account: Account, data: dict, by: User) -> AccountProfile:
    """Save the profile answers; the history keeps every earlier version with who changed it."""
    profile = AccountProfile.objects.select_for_update().filter(account=account).first()
    if profile is None:
        profile = AccountProfile(account=account)
    changed = [field for field, value in data.items() if getattr(profile, field) != value]
    if not changed:
        return profile
    for field in changed:
        setattr(profile, field, data[field])
    profile.updated_by = by
    profile._history_user = by
    # history_change_reason holds 100 characters; all nine answers at once would overflow it (PostgreSQL
    # refuses, SQLite silently keeps it), so long lists are cut.
    reason = "Updated " + ", ".join(changed)
    profile._change_reason = reason if len(reason) <= 100 else reason[:99] + "…"
    profile.save()
    return profile
