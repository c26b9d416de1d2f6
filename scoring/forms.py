"""The scoring-model editor: weights, tier rules, cadences and CLV settings, in the units a manager thinks in.

Tier shares and the discount rate are entered in percent and stored as fractions; the share and cut-off
fields are separate so switching the tier method never reinterprets a number typed for the other one.
"""

from decimal import Decimal

from django import forms

from accounts.cadence import DEFAULT_TIER_CADENCE
from scoring import engine
from scoring.models import ScoringModel, TierMethod

WEIGHT_HELP = {
    "cm": "Trailing-12-month revenue minus variable cost.",
    "cm_pct": "Contribution margin as a share of revenue.",
    "clv": "Expected discounted future contribution margin.",
    "growth": "Revenue growth, last 12 months against the 12 before.",
    "image": "A manager's 1-5 rating: reference value, prestige.",
    "partnership": "A manager's 1-5 rating: long-term alliance, joint development.",
    "strategic": "Optional 0-5 rating, e.g. a competitor's account we decided to attack.",
}
DEFAULT_SHARES = {"A": Decimal("10"), "B": Decimal("20"), "C": Decimal("30")}
DEFAULT_CUTOFFS = {"A": Decimal("70"), "B": Decimal("50"), "C": Decimal("30")}
PCT = Decimal("100")


def _weight_field(criterion: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=engine.CRITERION_LABELS[criterion],
        help_text=WEIGHT_HELP[criterion],
        max_digits=6,
        decimal_places=3,
        max_value=999,
        initial=0,
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
    )


def _plain(value: Decimal) -> Decimal:
    """10.000 -> 10 and 0.150 -> 0.15, never 1E+1 (which is what normalize() alone shows in a form)."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _number_field(
    label: str, *, required: bool = True, decimal_places: int = 1, **attrs
) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        error_messages={"required": f"Enter the {label[0].lower()}{label[1:]}."},
        max_digits=5,
        decimal_places=decimal_places,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal", **attrs}),
    )


def _cadence_field(tier: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=f"Tier {tier}",
        required=False,
        min_value=1,
        max_value=730,
        help_text="Days between visits; empty = no target." if tier == "D" else "Days between visits.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class ScoringModelForm(forms.Form):
    """Edits a scoring model as a new version; also feeds the what-if preview (weights() and tier_rule())."""

    weight_cm = _weight_field("cm")
    weight_cm_pct = _weight_field("cm_pct")
    weight_clv = _weight_field("clv")
    weight_growth = _weight_field("growth")
    weight_image = _weight_field("image")
    weight_partnership = _weight_field("partnership")
    weight_strategic = _weight_field("strategic")

    tier_method = forms.ChoiceField(
        label="How tiers are set",
        choices=[
            (TierMethod.SHARE, "By share of ranked accounts (fits the number of key accounts to capacity)"),
            (TierMethod.CUTOFF, "By minimum score"),
        ],
        widget=forms.RadioSelect,
    )
    share_a = _number_field("Tier A, % of accounts", min="0", max="100")
    share_b = _number_field("Tier B, % of accounts", min="0", max="100")
    share_c = _number_field("Tier C, % of accounts", min="0", max="100")
    cutoff_a = _number_field("Tier A, minimum score", min="0", max="100")
    cutoff_b = _number_field("Tier B, minimum score", min="0", max="100")
    cutoff_c = _number_field("Tier C, minimum score", min="0", max="100")

    cadence_a_days = _cadence_field("A")
    cadence_b_days = _cadence_field("B")
    cadence_c_days = _cadence_field("C")
    cadence_d_days = _cadence_field("D")

    clv_horizon_months = forms.IntegerField(
        label="CLV horizon (months)",
        min_value=1,
        max_value=120,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    discount_rate_pct = _number_field("Annual discount rate (%)", decimal_places=2, min="0", max="99.99")
    note = forms.CharField(
        label="What changed and why",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown in the version history.",
    )

    WEIGHT_FIELDS = tuple(f"weight_{c}" for c in engine.CRITERIA)

    @classmethod
    def initial_from(cls, model: ScoringModel | None) -> dict:
        if model is None:
            return {
                **{f"weight_{c}": Decimal("1") for c in engine.CRITERIA if c != "strategic"},
                "weight_strategic": Decimal("0"),
                "tier_method": TierMethod.SHARE,
                **{f"share_{t.lower()}": v for t, v in DEFAULT_SHARES.items()},
                **{f"cutoff_{t.lower()}": v for t, v in DEFAULT_CUTOFFS.items()},
                **{f"cadence_{t.lower()}_days": days for t, days in DEFAULT_TIER_CADENCE.items()},
                "clv_horizon_months": 36,
                "discount_rate_pct": Decimal("10"),
            }
        shares, cutoffs = dict(DEFAULT_SHARES), dict(DEFAULT_CUTOFFS)
        values = {"A": model.tier_a, "B": model.tier_b, "C": model.tier_c}
        if model.tier_method == TierMethod.SHARE:
            shares = {t: _plain(v * PCT) for t, v in values.items()}
        else:
            cutoffs = {t: _plain(v) for t, v in values.items()}
        return {
            **{f: _plain(getattr(model, f)) for f in cls.WEIGHT_FIELDS},
            "tier_method": model.tier_method,
            **{f"share_{t.lower()}": v for t, v in shares.items()},
            **{f"cutoff_{t.lower()}": v for t, v in cutoffs.items()},
            "cadence_a_days": model.cadence_a_days,
            "cadence_b_days": model.cadence_b_days,
            "cadence_c_days": model.cadence_c_days,
            "cadence_d_days": model.cadence_d_days,
            "clv_horizon_months": model.clv_horizon_months,
            "discount_rate_pct": _plain(model.discount_rate * PCT),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the rule fields of the chosen method are required; the others are kept but ignored.
        method = self.data.get("tier_method") if self.is_bound else None
        for tier in "abc":
            self.fields[f"share_{tier}"].required = method != TierMethod.CUTOFF
            self.fields[f"cutoff_{tier}"].required = method != TierMethod.SHARE

    def clean(self):
        cleaned = super().clean()
        weights = {f: cleaned.get(f) for f in self.WEIGHT_FIELDS}
        for name, weight in weights.items():
            if weight is not None and weight < 0:
                self.add_error(name, "A weight cannot be negative; use 0 to leave a criterion out.")
        if all(w is not None and w >= 0 for w in weights.values()) and not any(
            w > 0 for w in weights.values()
        ):
            self.add_error(None, "Give at least one criterion a weight above zero.")
        method = cleaned.get("tier_method")
        if method == TierMethod.SHARE:
            shares = [cleaned.get(f"share_{t}") for t in "abc"]
            if all(s is not None for s in shares):
                if any(s < 0 or s > 100 for s in shares):
                    self.add_error(None, "Each tier share must be between 0 % and 100 %.")
                elif sum(shares) > 100:
                    self.add_error(
                        None,
                        f"Tier shares add up to {sum(shares).normalize():f} %; A, B and C can use 100 % at most.",
                    )
                elif shares[0] <= 0:
                    self.add_error(
                        "share_a", "Tier A needs a share above 0 %, or there are no key candidates."
                    )
        elif method == TierMethod.CUTOFF:
            cutoffs = [cleaned.get(f"cutoff_{t}") for t in "abc"]
            if all(c is not None for c in cutoffs):
                if any(c < 0 or c > 100 for c in cutoffs):
                    self.add_error(None, "Score cut-offs must be between 0 and 100.")
                elif not cutoffs[0] >= cutoffs[1] >= cutoffs[2]:
                    self.add_error(None, "Cut-offs must run from A down to C: A ≥ B ≥ C.")
        rate = cleaned.get("discount_rate_pct")
        if rate is not None and not 0 <= rate < 100:
            self.add_error("discount_rate_pct", "The discount rate must be at least 0 % and below 100 %.")
        return cleaned

    # --- After is_valid() -----------------------------------------------------------------------------------

    def weights(self) -> dict[str, float]:
        return {c: float(self.cleaned_data[f"weight_{c}"]) for c in engine.CRITERIA}

    def _tier_values(self) -> dict[str, Decimal]:
        method = self.cleaned_data["tier_method"]
        if method == TierMethod.SHARE:
            return {
                t: (self.cleaned_data[f"share_{t.lower()}"] / PCT).quantize(Decimal("0.001")) for t in "ABC"
            }
        return {t: self.cleaned_data[f"cutoff_{t.lower()}"].quantize(Decimal("0.001")) for t in "ABC"}

    def tier_rule(self) -> engine.TierRule:
        values = {t: float(v) for t, v in self._tier_values().items()}
        if self.cleaned_data["tier_method"] == TierMethod.SHARE:
            return engine.TierRule(method="share", shares=values)
        return engine.TierRule(method="cutoff", cutoffs=values)

    def model_data(self) -> dict:
        """The values for scoring_model_create_version()."""
        data = self.cleaned_data
        tiers = self._tier_values()
        return {
            **{f: data[f] for f in self.WEIGHT_FIELDS},
            "tier_method": data["tier_method"],
            "tier_a": tiers["A"],
            "tier_b": tiers["B"],
            "tier_c": tiers["C"],
            "cadence_a_days": data["cadence_a_days"],
            "cadence_b_days": data["cadence_b_days"],
            "cadence_c_days": data["cadence_c_days"],
            "cadence_d_days": data["cadence_d_days"],
            "clv_horizon_months": data["clv_horizon_months"],
            "discount_rate": (data["discount_rate_pct"] / PCT).quantize(Decimal("0.0001")),
            "note": data["note"].strip(),
        }

    @property
    def weight_fields(self):
        return [self[f] for f in self.WEIGHT_FIELDS]

    @property
    def share_fields(self):
        return [self[f"share_{t}"] for t in "abc"]

    @property
    def cutoff_fields(self):
        return [self[f"cutoff_{t}"] for t in "abc"]

    @property
    def cadence_fields(self):
        return [self[f"cadence_{t}_days"] for t in "abcd"]
