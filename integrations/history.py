"""The audit trail names the API key behind a change, not only the user the key acts as.

django-simple-history takes history_user from the request (its middleware keeps it); DRF puts the
authenticated key on that request as `auth`. Its documented way to fill an extra field of a historical row
is the pre_create_historical_record signal, connected in IntegrationsConfig.ready(): this is bookkeeping of
every tracked save, not a step of any domain flow.
"""

from simple_history.models import HistoricalRecords

from integrations.models import ApiKey


def name_the_key(sender, history_instance, **kwargs) -> None:
    request = getattr(HistoricalRecords.context, "request", None)
    key = getattr(request, "auth", None)
    if isinstance(key, ApiKey) and hasattr(history_instance, "history_api_key"):
        history_instance.history_api_key = key.audit_label
