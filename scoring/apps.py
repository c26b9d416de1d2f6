from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_delete


def ensure_default_model(sender, using="default", **kwargs):
    """A fresh installation scores on day one: if no scoring model exists at all, create the default one.

    The data migration does this once; this receiver also covers a database that was flushed afterwards
    (`manage.py flush`, transactional tests), which empties every table but emits post_migrate again.
    """
    # Models can be imported only once the app registry is ready, which is after this module loads.
    from scoring.defaults import DEFAULT_WEIGHTS
    from scoring.models import ScoringModel

    manager = ScoringModel.objects.db_manager(using)
    if not manager.exists():
        manager.create(
            version=1,
            name="Key-account selection",
            note="Initial default weights.",
            is_active=True,
            **DEFAULT_WEIGHTS,
        )


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = "Scoring"

    def ready(self):
        post_migrate.connect(ensure_default_model, sender=self, dispatch_uid="scoring.ensure_default_model")
        # Results carry no database foreign key (speed): deleting an account waits for a publishing run.
        # (Imported here: models load only once the app registry is ready.)
        from accounts.models import Account
        from scoring.services import results_guard_delete

        pre_delete.connect(results_guard_delete, sender=Account, dispatch_uid="scoring.results_guard_delete")
