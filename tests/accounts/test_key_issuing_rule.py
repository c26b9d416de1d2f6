"""Whom an API key may act as (accounts.access.may_issue_key_for), in Python and as the form's queryset."""

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts import access
from accounts.models import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# (maker, user the key acts as, allowed?)
CASES = [
    ("manager", "manager", True),  # the manager who makes it
    ("manager", "rep", True),  # a rep who asked for one
    ("manager", "integration", True),
    ("manager", "other_manager", False),
    ("manager", "superuser", False),
    ("manager", "inactive_rep", False),
    ("superuser", "superuser", True),
    ("superuser", "manager", False),
    ("superuser", "integration", True),
    ("rep", "rep", True),  # for themselves
    ("rep", "other_rep", False),
    ("rep", "integration", False),
    ("rep", "manager", False),
    ("integration", "integration", True),
    ("integration", "rep", False),
    ("anonymous", "rep", False),
]


@pytest.fixture
def people(world):
    return {
        "manager": world.manager,
        "other_manager": UserFactory(username="other_manager", role=Role.MANAGER),
        "superuser": UserFactory(username="root", role=Role.REP, is_superuser=True, is_staff=True),
        "rep": world.rep,
        "other_rep": world.other_rep,
        "inactive_rep": UserFactory(username="gone", role=Role.REP, is_active=False),
        "integration": world.integration,
        "anonymous": AnonymousUser(),
    }


@pytest.mark.parametrize(("maker", "user", "allowed"), CASES)
def test_a_key_acts_as_its_maker_a_rep_or_an_integration_user_never_another_manager(
    people, maker, user, allowed
):
    assert access.may_issue_key_for(people[maker], people[user]) is allowed
    in_queryset = access.key_users_for(people[maker]).filter(pk=people[user].pk).exists()
    assert in_queryset is allowed  # the form's choices are the same rule
