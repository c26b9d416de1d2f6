"""The only way a view, API or export fetches an account, or anything under one, by id.

Not visible means 404 (for a rep, another rep's account does not exist); visible but read-only means 403.
"""

from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404

from accounts.models import Account

M = TypeVar("M", bound=Model)


def can_edit(user, account: Account) -> bool:
    """Managers edit everything; reps edit what they own or are on the team of; integrations never here."""
    if not user.is_authenticated or not user.is_active or user.is_integration:
        return False
    if user.is_manager:
        return True
    return account.owner_id == user.pk or account.team_members.filter(user=user).exists()


def get_account_for_user(user, pk, *, write: bool = False, queryset=None) -> Account:
    base = queryset if queryset is not None else Account.objects.all()
    try:
        account = base.visible_to(user).get(pk=pk)
    except (Account.DoesNotExist, ValueError, TypeError):
        raise Http404("No such account.") from None
    if write and not can_edit(user, account):
        raise PermissionDenied("You can see this account but not change it.")
    return account


def get_object_for_user(user, model: type[M], pk, *, write: bool = False, account_path="account") -> M:
    """An object under an account (visit, influencer, plan, action...), scoped through its account."""
    visible = Account.objects.visible_to(user)
    try:
        obj = model.objects.select_related(account_path).get(pk=pk, **{f"{account_path}__in": visible})
    except (model.DoesNotExist, ValueError, TypeError):
        raise Http404("Not found.") from None
    account = obj
    for part in account_path.split("__"):
        account = getattr(account, part)
    if write and not can_edit(user, account):
        raise PermissionDenied("You can see this account but not change it.")
    return obj
