"""API keys and webhooks moved to the integrations app, imports to dataio (the floor-plan re-cut).

State only: the tables keep their names (each moved model names its db_table), so no row is copied or
locked. The new apps' 0001 migrations take the models over in Django's state and relabel their content types.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0010_drop_tier_rank_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='importmapping',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='importrecord',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='importupload',
                    name='record',
                ),
                migrations.RemoveField(
                    model_name='webhookdelivery',
                    name='endpoint',
                ),
                migrations.RemoveField(
                    model_name='webhookendpoint',
                    name='owner',
                ),
                migrations.DeleteModel(
                    name='ApiKey',
                ),
                migrations.DeleteModel(
                    name='ImportMapping',
                ),
                migrations.DeleteModel(
                    name='ImportRecord',
                ),
                migrations.DeleteModel(
                    name='ImportUpload',
                ),
                migrations.DeleteModel(
                    name='WebhookDelivery',
                ),
                migrations.DeleteModel(
                    name='WebhookEndpoint',
                ),
            ],
            database_operations=[],
        ),
    ]
