from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        # drf-spectacular learns how to describe the API key once the extension class exists.
        from integrations import schema  # noqa: F401
