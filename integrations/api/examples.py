"""Example bodies shown in the OpenAPI document for the webhook endpoints."""

WEBHOOK_EXAMPLE = {
    "id": 5,
    "url": "https://erp.example.com/kam/events",
    "description": "ERP: new tiers into the price lists",
    "events": ["account.tier_changed", "run.succeeded"],
    "active": True,
    "created_at": "2026-11-23T09:00:00Z",
    "updated_at": "2026-11-23T09:00:00Z",
}


DELIVERY_EXAMPLE = {
    "id": 812,
    "endpoint": 5,
    "event": "run.succeeded",
    "status": "succeeded",
    "attempts": 2,
    "response_code": 200,
    "error": "",
    "attempt_log": [
        {"attempt": 1, "at": "2026-11-23T02:05:00Z", "status_code": 500, "error": "HTTP 500", "ms": 41},
        {"attempt": 2, "at": "2026-11-23T02:05:30Z", "status_code": 200, "error": "", "ms": 38},
    ],
    "payload": {
        "id": "evt_5b0c3f0e9d7a4a55b1e0f6c1a2b3c4d5",
        "event": "run.succeeded",
        "created_at": "2026-11-23T02:05:00Z",
        "data": {"run": {"id": 311, "status": "succeeded", "as_of": "2026-11-23"}},
    },
    "created_at": "2026-11-23T02:05:00Z",
    "last_attempt_at": "2026-11-23T02:05:30Z",
    "next_attempt_at": None,
    "delivered_at": "2026-11-23T02:05:30Z",
}
