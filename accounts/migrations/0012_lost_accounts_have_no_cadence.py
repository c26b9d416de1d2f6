"""The cadence rule (accounts.cadence) now gives a lost account no cadence, so "lapsed" means one thing.

Lost accounts kept the due date their last override or tier gave them: the nightly check left them out but
the list's "lapsed" filter showed them. Clear their stored target and due date (one UPDATE over the lost
accounts only; their other fields, and every other account, are untouched), then pin the rule with a check
constraint. Reversing drops the constraint and leaves the dates cleared: the next publication would compute
them again under the old rule.
"""

from django.db import migrations, models


def clear_lost_cadences(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    Account.objects.filter(status="lost").exclude(
        target_cadence_days__isnull=True, next_contact_due__isnull=True
    ).update(target_cadence_days=None, next_contact_due=None)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_move_integrations_and_imports_out"),
    ]

    operations = [
        migrations.RunPython(clear_lost_cadences, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(("status", "lost"), _negated=True)
                | models.Q(("target_cadence_days__isnull", True), ("next_contact_due__isnull", True)),
                name="account_lost_has_no_cadence",
            ),
        ),
    ]
