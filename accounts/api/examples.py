"""Example values for the OpenAPI schema of the accounts API (kept out of the views for readability)."""

ACCOUNT_EXAMPLE = {
    "id": 42,
    "name": "Noordzee Foods B.V.",
    "reference": "C-10042",
    "industry": "Food",
    "country": "NL",
    "region": "Benelux",
    "status": "active",
    "parent": None,
    "children": [57, 58],
    "owner": 7,
    "owner_name": "Anna de Vries",
    "is_key": True,
    "key_since": "2025-03-01",
    "key_reason": "Top-decile margin and a joint development programme.",
    "tier": "A",
    "rank": 3,
    "score": "87.40",
    "score_change": "1.20",
    "scored_at": "2026-11-23T02:04:11Z",
    "image_rating": 4,
    "partnership_rating": 5,
    "strategic_rating": None,
    "cadence_days": None,
    "target_cadence_days": 30,
    "last_contact_date": "2026-11-02",
    "next_contact_due": "2026-12-02",
    "created_at": "2024-01-15T09:30:00Z",
    "updated_at": "2026-11-02T16:12:45Z",
}


ORDER_EXAMPLE = {
    "id": 90125,
    "account": 42,
    "account_reference": "C-10042",
    "reference": "SO-2026-001234",
    "date": "2026-11-20",
    "revenue": "12500.00",
    "variable_cost": "8300.00",
    "contribution_margin": "4200.00",
    "created_at": "2026-11-21T01:00:04Z",
    "updated_at": "2026-11-21T01:00:04Z",
}


VISIT_EXAMPLE = {
    "id": 3310,
    "account": 42,
    "date": "2026-11-20",
    "kind": "on_site",
    "summary": "Quarterly review with purchasing; they want a joint forecast.",
    "next_steps": "Send the forecast template.",
    "follow_up_date": "2026-12-04",
    "influencers": [118],
    "logged_by": 7,
    "created_at": "2026-11-20T15:02:00Z",
}


ALERT_EXAMPLE = {
    "id": 501,
    "account": 42,
    "account_name": "Noordzee Foods B.V.",
    "kind": "lapsed_cadence",
    "status": "open",
    "is_open": True,
    "opened_on": "2026-11-23",
    "due_since": "2026-11-15",
    "resolved_on": None,
    "acknowledged_by": None,
    "acknowledged_at": None,
    "escalated_to": None,
    "escalated_at": None,
}
