"""Takes over ApiKey, WebhookEndpoint, WebhookDelivery from the accounts app: their tables already exist.

State only (the tables keep their accounts_* names), then the content types are relabelled so permissions
and admin log entries stay attached to the same rows.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MOVED = ('apikey', 'webhookendpoint', 'webhookdelivery')


def _move(apps, source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        # A fresh database has no content types yet (they are made after migrating): nothing to relabel.
        if not content_type.objects.filter(app_label=target, model=model).exists():
            content_type.objects.filter(app_label=source, model=model).update(app_label=target)


def relabel_content_types(apps, schema_editor):
    _move(apps, "accounts", "integrations")


def unrelabel_content_types(apps, schema_editor):
    _move(apps, "integrations", "accounts")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('contenttypes', '0002_remove_content_type_name'),
        ('accounts', '0011_move_integrations_and_imports_out'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='WebhookEndpoint',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('url', models.URLField(help_text='An http(s) address that accepts a JSON POST.', max_length=500)),
                        ('description', models.CharField(blank=True, max_length=200)),
                        ('secret', models.CharField(editable=False, max_length=64)),
                        ('events', models.JSONField(default=list)),
                        ('active', models.BooleanField(default=True)),
                        ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhook_endpoints', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'accounts_webhookendpoint',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ApiKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(help_text="Which system uses this key, e.g. 'ERP nightly sync'.", max_length=100)),
                        ('prefix', models.CharField(editable=False, max_length=16, unique=True)),
                        ('secret_hash', models.CharField(editable=False, max_length=64)),
                        ('scopes', models.JSONField(default=list)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('last_used_at', models.DateTimeField(blank=True, null=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('user', models.ForeignKey(help_text='The key sees what this user sees.', on_delete=django.db.models.deletion.CASCADE, related_name='api_keys', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'accounts_apikey',
                        'ordering': ['revoked_at', '-created_at', '-id'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('name', ''), _negated=True), name='api_key_has_name')],
                    },
                ),
                migrations.CreateModel(
                    name='WebhookDelivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('event', models.CharField(max_length=40)),
                        ('payload', models.JSONField()),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('retrying', 'Retrying'), ('succeeded', 'Delivered'), ('failed', 'Failed')], default='pending', max_length=10)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('response_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('error', models.TextField(blank=True)),
                        ('attempt_log', models.JSONField(blank=True, default=list)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('last_attempt_at', models.DateTimeField(blank=True, null=True)),
                        ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                        ('delivered_at', models.DateTimeField(blank=True, null=True)),
                        ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='integrations.webhookendpoint')),
                    ],
                    options={
                        'db_table': 'accounts_webhookdelivery',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(fields=['endpoint', '-created_at'], name='delivery_endpoint_created_idx')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(relabel_content_types, unrelabel_content_types),
    ]
