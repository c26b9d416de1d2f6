from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from simple_history.signals import pre_create_historical_record

        # drf-spectacular learns how to describe the API key once the extension class exists.
        from integrations import schema  # noqa: F401
        from integrations.history import name_the_key

        # The audit trail names the key behind a change (integrations/history.py says why a signal).
        pre_create_historical_record.connect(name_the_key, dispatch_uid="integrations.history.name_the_key")
