from decimal import Decimal

from django.db import migrations

# A sensible starting strategy, so a fresh installation can score on day one; managers tune it from there.
DEFAULT_WEIGHTS = {
    "weight_cm": Decimal("0.30"),
    "weight_cm_pct": Decimal("0.15"),
    "weight_clv": Decimal("0.25"),
    "weight_growth": Decimal("0.10"),
    "weight_image": Decimal("0.10"),
    "weight_partnership": Decimal("0.10"),
    "weight_strategic": Decimal("0"),
}


def create_default_model(apps, schema_editor):
    ScoringModel = apps.get_model("scoring", "ScoringModel")
    if not ScoringModel.objects.exists():
        ScoringModel.objects.create(
            version=1, name="Key-account selection", note="Initial default weights.", is_active=True,
            **DEFAULT_WEIGHTS,
        )


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_scoring_models_runs_results")]

    operations = [migrations.RunPython(create_default_model, migrations.RunPython.noop)]
