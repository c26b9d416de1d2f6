"""Takes over ImportRecord, ImportUpload, ImportMapping from the accounts app: their tables already exist.

State only (the tables keep their accounts_* names), then the content types are relabelled so permissions
and admin log entries stay attached to the same rows.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MOVED = ('importrecord', 'importupload', 'importmapping')


def _move(apps, source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        # A fresh database has no content types yet (they are made after migrating): nothing to relabel.
        if not content_type.objects.filter(app_label=target, model=model).exists():
            content_type.objects.filter(app_label=source, model=model).update(app_label=target)


def relabel_content_types(apps, schema_editor):
    _move(apps, "accounts", "dataio")


def unrelabel_content_types(apps, schema_editor):
    _move(apps, "dataio", "accounts")


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
                    name='ImportRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('kind', models.CharField(choices=[('accounts', 'Accounts'), ('orders', 'Orders'), ('influencers', 'Buying influencers'), ('visits', 'Visits')], max_length=20)),
                        ('status', models.CharField(choices=[('uploaded', 'Uploaded, not imported yet'), ('queued', 'Queued'), ('running', 'Importing'), ('succeeded', 'Imported'), ('checked', 'Checked (dry run), nothing written'), ('failed', 'Refused, nothing written')], default='uploaded', max_length=20)),
                        ('source', models.CharField(default='browser', help_text='browser or command', max_length=20)),
                        ('file_name', models.CharField(max_length=255)),
                        ('file_format', models.CharField(default='csv', max_length=10)),
                        ('size_bytes', models.PositiveBigIntegerField(default=0)),
                        ('checksum', models.CharField(help_text='SHA-256 of the file as uploaded.', max_length=64)),
                        ('dry_run', models.BooleanField(default=False)),
                        ('mapping', models.JSONField(blank=True, default=dict, help_text='Field name -> column of the file.')),
                        ('options', models.JSONField(blank=True, default=dict, help_text='Delimiter and encoding, if stated.')),
                        ('rows_total', models.PositiveIntegerField(default=0)),
                        ('rows_created', models.PositiveIntegerField(default=0)),
                        ('rows_updated', models.PositiveIntegerField(default=0)),
                        ('rows_unchanged', models.PositiveIntegerField(default=0)),
                        ('rows_rejected', models.PositiveIntegerField(default=0)),
                        ('error_count', models.PositiveIntegerField(default=0)),
                        ('errors', models.JSONField(blank=True, default=list)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('created_by', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='imports', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'accounts_importrecord',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ImportUpload',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('content', models.BinaryField()),
                        ('record', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='upload', to='dataio.importrecord')),
                    ],
                    options={
                        'db_table': 'accounts_importupload',
                    },
                ),
                migrations.CreateModel(
                    name='ImportMapping',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('kind', models.CharField(choices=[('accounts', 'Accounts'), ('orders', 'Orders'), ('influencers', 'Buying influencers'), ('visits', 'Visits')], max_length=20)),
                        ('mapping', models.JSONField(default=dict)),
                        ('user', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'accounts_importmapping',
                        'constraints': [models.UniqueConstraint(fields=('user', 'kind'), name='import_mapping_one_per_user_kind')],
                    },
                ),
                migrations.AddIndex(
                    model_name='importrecord',
                    index=models.Index(fields=['-created_at'], name='import_created_idx'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(relabel_content_types, unrelabel_content_types),
    ]
