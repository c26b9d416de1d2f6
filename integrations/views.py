"""Settings → Integrations: managers create and revoke API keys (shown once) and manage webhook endpoints.

A new key or secret is rendered in the response to the POST that made it, never stored, never redirected to,
and sent with Cache-Control: no-store so a browser's back button cannot show it again.
"""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import access
from accounts.models import User
from integrations import webhooks
from integrations.models import ApiKey, WebhookEndpoint, WebhookEvent
from kam.api.scopes import ApiScope
from kam.web import manager_page


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Which system will use it, e.g. “ERP nightly sync”.")
    user = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Acts as",
        help_text="The key sees exactly what this person sees: a rep's key only their accounts. "
        "Pick an integration user for a system that needs the whole portfolio. A key acts as you, a rep "
        "who asked for one, or an integration user; changes made with it are recorded under its name.",
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiScope.READ],
        help_text="Give the key only what the system needs.",
    )

    def __init__(self, *args, maker, **kwargs):
        super().__init__(*args, **kwargs)
        self.maker = maker
        self.fields["user"].queryset = access.key_users_for(maker).order_by(
            "role", "first_name", "last_name", "username"
        )

    def clean(self):
        cleaned = super().clean()
        user, scopes = cleaned.get("user"), cleaned.get("scopes") or []
        if user and not access.may_issue_key_for(self.maker, user):
            self.add_error("user", access.KEY_USER_REFUSED)
        if user and ApiScope.RUN_SCORING in scopes and not access.may_run_scoring(user):
            self.add_error("scopes", "Only a key acting as a manager can start scoring runs.")
        return cleaned


class WebhookForm(forms.ModelForm):
    # The address is checked by the model field's validator (integrations.outbound.validate_webhook_url), the
    # same one the API's serializer runs.
    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        label="Address",
        help_text="Where to POST the events; use https outside a test setup.",
    )
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "owner", "events", "active"]
        labels = {"owner": "Sent as", "active": "Active"}
        help_texts = {"owner": "Events carry only the accounts this person can see."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(is_active=True).order_by("role", "username")


def _secret_page(request, *, title: str, secret: str, lead: str, back: str, status: int = 200):
    response = render(
        request,
        "integrations/secret.html",
        {"title": title, "secret": secret, "lead": lead, "back": back},
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


@manager_page
def index(request):
    context = {
        "keys": ApiKey.objects.select_related("user", "created_by"),
        "endpoints": WebhookEndpoint.objects.select_related("owner").order_by("-created_at", "-id"),
        "scope_labels": dict(ApiScope.choices),
    }
    return render(request, "integrations/index.html", context)


@manager_page
@never_cache
def key_create(request):
    form = ApiKeyForm(request.POST or None, maker=request.user)
    if request.method == "POST" and form.is_valid():
        key, raw = ApiKey.issue(created_by=request.user, **form.cleaned_data)
        lead = f"The key “{key.name}” acts as {key.user}. Copy it now: it is not stored and cannot be shown again."
        return _secret_page(
            request, title="Your new API key", secret=raw, lead=lead, back="integrations:index"
        )
    return render(
        request, "integrations/form.html", {"form": form, "title": "New API key", "submit": "Create key"}
    )


@manager_page
@require_POST
def key_revoke(request, pk):
    key = get_object_or_404(ApiKey, pk=pk)
    key.revoke(when=timezone.now())
    messages.success(request, f"Key “{key.name}” revoked: requests with it now get 401.")
    return redirect("integrations:index")


@manager_page
@never_cache
def webhook_create(request):
    form = WebhookForm(request.POST or None, initial={"owner": request.user, "active": True})
    if request.method == "POST" and form.is_valid():
        endpoint = form.save(commit=False)
        endpoint.secret = WebhookEndpoint.new_secret()
        endpoint.save()
        lead = (
            "Deliveries to this endpoint are signed with this secret. Copy it into the receiving system now."
        )
        title = "Webhook signing secret"
        return _secret_page(
            request, title=title, secret=endpoint.secret, lead=lead, back="integrations:index"
        )
    return render(
        request, "integrations/form.html", {"form": form, "title": "New webhook", "submit": "Create"}
    )


@manager_page
def webhook_edit(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint.objects.select_related("owner"), pk=pk)
    form = WebhookForm(request.POST or None, instance=endpoint)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Webhook saved.")
        return redirect("integrations:webhook_edit", pk=endpoint.pk)
    deliveries = endpoint.deliveries.order_by("-created_at", "-id")[:25]
    context = {"form": form, "endpoint": endpoint, "deliveries": deliveries}
    return render(request, "integrations/webhook.html", context)


@manager_page
@require_POST
def webhook_rotate(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    secret = endpoint.rotate_secret()
    lead = "The old secret no longer signs deliveries. Copy the new one into the receiving system now."
    return _secret_page(
        request, title="New signing secret", secret=secret, lead=lead, back="integrations:index"
    )


@manager_page
@require_POST
def webhook_ping(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    delivery = webhooks.webhook_ping(endpoint=endpoint)
    messages.info(request, f"Test event queued as delivery #{delivery.pk}; its outcome appears below.")
    return redirect("integrations:webhook_edit", pk=endpoint.pk)


@manager_page
@require_POST
def webhook_delete(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    endpoint.delete()
    messages.success(request, f"Webhook {endpoint.url} deleted.")
    return redirect("integrations:index")
