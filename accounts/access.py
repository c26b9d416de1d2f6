"""Who may do what, for an actor: a signed-in user, or a user acting through an API key.

Every access question the product asks is answered here, so a rule changes in one place:

- seeing:    `sees_everything(user)` (managers and integration users see the whole portfolio; a rep sees the
             accounts they own or serve on the team of: `Account.objects.visible_to`), and its ORM form for a
             related user, `sees_everything_q("owner")` (the digest decides per action owner in one query);
- editing:   `can_edit(user, account)` in the app; `may_write(user, account, key=...)` adds the API rule
             that an integration user's key writes wherever it can see (its write scope is its right to
             write: how an ERP pushes orders and visits for the whole portfolio);
- judging:   `may_rate(user)` (image, partnership and strategic ratings are a manager's judgement, DOMAIN.md
             section 2; integration users may sync them), `may_reassign(user)` (who owns an account),
             `may_run_scoring(user)`;
- API keys:   `may_issue_key_for(maker, user)` / `key_users_for(maker)`: whom a key may act as;
- fetching:  `get_account_for_user` / `get_object_for_user`, the only way a view, API or export fetches an
             account, or anything under one, by id: not visible means 404 (for a rep, another rep's account
             does not exist); visible but read-only means 403.

The role facts (User.is_manager, is_integration, sees_every_account) live on the user model, and the
query-free predicates built on them (signed_in, sees_everything, sees_everything_q, edits_in_app) are defined
in accounts/models.py, because the account queryset's visible_to and editable_by decide with them and models
sit below this module. They are re-exported here: callers ask this module, and nothing else writes them out.
"""

from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q
from django.http import Http404

from accounts.models import Account, Role, User, edits_in_app, sees_everything, sees_everything_q, signed_in

__all__ = [
    "RATING_REFUSED",
    "REASSIGN_REFUSED",
    "acts_as_integration",
    "can_edit",
    "edits_in_app",
    "get_account_for_user",
    "get_object_for_user",
    "key_users_for",
    "may_issue_key_for",
    "may_rate",
    "may_reassign",
    "may_run_scoring",
    "may_write",
    "sees_everything",
    "sees_everything_q",
    "signed_in",
    "writable_accounts",
]

M = TypeVar("M", bound=Model)

KEY_USER_REFUSED = (
    "A key acts as the manager who makes it, a rep, or an integration user: never as another manager."
)
RATING_REFUSED = "Ratings are a manager's judgement; only a manager can change them."
REASSIGN_REFUSED = "Reassigning accounts is a manager's decision."


def acts_as_integration(user, key) -> bool:
    """An integration user through one of their keys: the key's scopes, not the app's edit rights, decide."""
    return key is not None and signed_in(user) and user.is_integration


def can_edit(user, account: Account) -> bool:
    """Managers edit everything; reps edit what they own or are on the team of; integrations never in the app."""
    if not edits_in_app(user):
        return False
    if user.is_manager:
        return True
    return account.owner_id == user.pk or account.team_members.filter(user=user).exists()


def may_write(user, account: Account, *, key=None) -> bool:
    """can_edit, or an integration user's key writing to an account it can see."""
    if acts_as_integration(user, key):
        return Account.objects.visible_to(user).filter(pk=account.pk).exists()
    return can_edit(user, account)


def writable_accounts(user, *, key=None):
    """The accounts `user` may write to (orders, visits...): may_write for a whole queryset."""
    if acts_as_integration(user, key):
        return Account.objects.visible_to(user)
    return Account.objects.editable_by(user)


def may_rate(user) -> bool:
    """Set or change the manager's ratings of an account (a rep may echo the current values unchanged).

    Managers, and integration users, who act only through a key (kam.web.staff_page keeps them off the pages,
    kam.api.permissions.ScopePermission refuses their session writes): the ratings are a manager's judgement
    (DOMAIN.md section 2), which an ERP or the managers' own tooling may sync. The account form, the API
    serializer and accounts.services.account_update all ask this, so none of them can let through what
    another refuses."""
    return signed_in(user) and (user.is_manager or user.is_integration)


def may_reassign(user) -> bool:
    """Choose or change who owns an account (anyone else who creates one owns it): the same people as may_rate,
    for the same reason, kept a question of its own because the two need not stay alike."""
    return signed_in(user) and (user.is_manager or user.is_integration)


def may_run_scoring(user) -> bool:
    """Start a portfolio recompute (and so hold a key with the run_scoring scope)."""
    return signed_in(user) and user.is_manager


def may_issue_key_for(maker, user) -> bool:
    """May `maker` make an API key that acts as `user`?

    Anyone may make one acting as themselves; a manager also for a rep (who asked for one) or an integration
    user. Never for another manager or the superuser: a key acts with its user's rights and the audit trail
    credits that user, so it would let one manager act, and be recorded, as another. Asked again on every
    request with the key, so it is about roles, not whether the maker still works here: a manager's
    integration keys outlive the manager's account.
    """
    if maker is None or not maker.is_authenticated or user is None or not user.is_active:
        return False
    return user.pk == maker.pk or (maker.is_manager and not user.is_manager)


def key_users_for(maker):
    """may_issue_key_for as a queryset: the users `maker` may make keys for (the key form's choices)."""
    users = User.objects.filter(is_active=True)
    if not signed_in(maker):
        return users.none()
    if not maker.is_manager:
        return users.filter(pk=maker.pk)
    return users.filter(Q(pk=maker.pk) | (Q(is_superuser=False) & ~Q(role=Role.MANAGER)))


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
