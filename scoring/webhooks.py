"""The scoring events integrations subscribe to: `run.succeeded` and `account.tier_changed`.

Recorded in the transaction that publishes the run, delivered after it commits (integrations.webhooks).
"""

from accounts.models import Account
from integrations.models import WebhookEvent
from integrations.webhooks import subscribers, webhooks_emit, webhooks_emit_batched
from scoring.models import ScoreResult, ScoringRun


def run_payload(run) -> dict:
    return {
        "id": run.pk,
        "status": run.status,
        "as_of": run.as_of.isoformat(),
        "model_version": run.model.version,
        "accounts_scored": run.accounts_scored,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "url": f"/api/v1/scoring/runs/{run.pk}/",
    }


def webhooks_emit_run_succeeded(*, run_id: int) -> int:
    """`run.succeeded`, then `account.tier_changed` with every account whose tier differs from the run before.

    Call after the run is marked succeeded (inside or after that transaction). "The run before" is the one the
    dashboard compares with (ScoringRun.objects.previous_to); an account new to the portfolio has previous_tier
    null, one that left it (marked lost) has tier null. Returns the number of deliveries recorded.
    """
    run = ScoringRun.objects.select_related("model").get(pk=run_id)
    sent = len(
        webhooks_emit(WebhookEvent.RUN_SUCCEEDED, {"run": run_payload(run), "scores_url": "/api/v1/scores/"})
    )
    if not subscribers(WebhookEvent.TIER_CHANGED):
        return sent
    previous = ScoringRun.objects.previous_to(run)
    before = (
        dict(ScoreResult.objects.filter(run=previous).values_list("account_id", "tier")) if previous else {}
    )
    rows = []
    current = ScoreResult.objects.filter(run=run).order_by("rank")
    for account_id, name, reference, tier, score, rank in current.values_list(
        "account_id", "account__name", "account__reference", "tier", "score", "rank"
    ):
        previous_tier = before.pop(account_id, None)
        if previous_tier != tier:
            rows.append(_change(account_id, name, reference, previous_tier, tier, score, rank))
    if before:  # accounts that left the portfolio
        for account_id, name, reference in Account.objects.filter(pk__in=list(before)).values_list(
            "id", "name", "reference"
        ):
            rows.append(_change(account_id, name, reference, before[account_id], None, None, None))
    if not rows:
        return sent
    common = {
        "run_id": run.pk,
        "as_of": run.as_of.isoformat(),
        "previous_run_id": previous.pk if previous else None,
    }
    return sent + webhooks_emit_batched(WebhookEvent.TIER_CHANGED, rows, common)


def _change(account_id, name, reference, previous_tier, tier, score, rank) -> dict:
    return {
        "account_id": account_id,
        "account_name": name,
        "account_reference": reference,
        "previous_tier": previous_tier or None,
        "tier": tier or None,
        "score": None if score is None else round(score, 2),
        "rank": rank,
    }
