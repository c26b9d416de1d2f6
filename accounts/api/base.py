"""What every account-scoped API view shares: the account through the one access helper."""

from accounts import access
from accounts.access import get_account_for_user
from accounts.models import Account
from kam.api.permissions import api_key_of
from kam.api.viewsets import ApiViewSet


def account_for_request(request, pk, *, write: bool = False, queryset=None) -> Account:
    """The account `pk` through the one access helper: 404 if not visible, 403 if read-only.

    People's keys follow their user's edit rights. Integration users may never edit in the app, so for their
    keys the write scope (already checked by ScopePermission) is what allows the write, on any account they
    can see: that is how an ERP pushes orders and visits for the whole portfolio.
    """
    if write and access.acts_as_integration(request.user, api_key_of(request)):
        return get_account_for_user(request.user, pk, queryset=queryset)
    return get_account_for_user(request.user, pk, write=write, queryset=queryset)


class AccountChildViewSet(ApiViewSet):
    """Things that live under one account, at /api/v1/accounts/{account_pk}/<things>/."""

    def get_account(self, *, write: bool = False) -> Account:
        cached = getattr(self, "_account", None)
        if cached is None or (write and not getattr(self, "_account_write", False)):
            self._account = account_for_request(self.request, self.kwargs["account_pk"], write=write)
            self._account_write = write
        return self._account

    def get_queryset(self):
        if self.schema_only:
            return self.queryset.none()
        return self.get_children(self.get_account())

    def get_children(self, account: Account):
        raise NotImplementedError
