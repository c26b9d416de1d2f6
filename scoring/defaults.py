"""The starting strategy of a fresh installation; managers tune it from the scoring model page."""

from decimal import Decimal

DEFAULT_WEIGHTS = {
    "weight_cm": Decimal("0.30"),
    "weight_cm_pct": Decimal("0.15"),
    "weight_clv": Decimal("0.25"),
    "weight_growth": Decimal("0.10"),
    "weight_image": Decimal("0.10"),
    "weight_partnership": Decimal("0.10"),
    "weight_strategic": Decimal("0"),
}
