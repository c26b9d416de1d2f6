"""Customer lifetime value of key accounts: BG/NBD purchase model + Gamma-Gamma margin model.

Pure module: plain values and pandas DataFrames in, DataFrames and dataclasses out; no Django.
Everything is vectorised over accounts (a million accounts must take seconds, not minutes).

The models themselves (likelihoods, fits, predictions) are in scoring.clv_models; this module summarises the
orders, falls back to a simpler rule when a fit cannot be trusted, and tabulates the CLV per account.

Time unit is the WEEK. Per account, over an observation window ending at ``as_of``:
``x`` = number of repeat purchase occasions (orders on the same calendar day are one occasion),
``t_x`` = time from the first to the last occasion, ``T`` = time from the first occasion to ``as_of``.

Sources:
  [FHL05a] Fader, Hardie & Lee (2005) "Counting your customers the easy way: An alternative to the
           Pareto/NBD model", Marketing Science 24(2).
  [FHL05b] Fader, Hardie & Lee (2005) "RFM and CLV: Using iso-value curves for customer base
           analysis", Journal of Marketing Research 42(4).
  [FHL08]  Fader, Hardie & Lee (2008) note "Computing P(alive) using the BG/NBD model".
  [FH13]   Fader & Hardie (2013) note "The Gamma-Gamma model of monetary value".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring.clv_models import (
    WEEKS_PER_MONTH,
    BGNBDFit,
    GammaGammaFit,
    conditional_expected_margin,
    discounted_expected_transactions,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
    simulate_bgnbd,
)


@dataclass
class CLVResult:
    table: pd.DataFrame
    bgnbd: BGNBDFit | None
    gamma_gamma: GammaGammaFit | None
    method: str
    fallback_reason: str
    n_accounts: int

    def params_dict(self) -> dict:
        """JSON-serialisable summary of the estimate (plain floats; null for a model not used)."""

        def pick(fit, keys):
            return None if fit is None else {k: float(getattr(fit, k)) for k in (*keys, "log_likelihood")}

        return {
            "accounts": int(self.n_accounts),
            "bgnbd": pick(self.bgnbd, ("r", "alpha", "a", "b")),
            "gamma_gamma": pick(self.gamma_gamma, ("p", "q", "gamma")),
            "method": self.method,
            "fallback_reason": self.fallback_reason,
        }


# ----------------------------------------------------------------------------------------- RFM summary
def rfm_summary(orders: pd.DataFrame, as_of: dt.date, *, window_start: dt.date | None = None) -> pd.DataFrame:
    """Per-account frequency / recency / age / margin summary, indexed by ``account_id``.

    ``orders`` has ``account_id``, ``date`` (dates or datetime64; times of day are dropped) and
    ``margin`` (contribution margin of the order). Orders after ``as_of`` or before ``window_start``
    are ignored; NaN margins count as 0. Orders on one calendar day form one occasion whose margin
    is the day's sum. Columns: ``x`` (repeat occasions), ``t_x`` and ``T`` (weeks), ``monetary``
    (mean margin of the repeat occasions, 0 when x == 0, as in [FHL05b] which leaves the first
    purchase out), ``first_margin``, ``mean_margin`` (mean over all occasions), ``total_margin``,
    ``n_occasions``, ``first_date``, ``last_date``.
    """
    day = pd.to_datetime(orders["date"])
    if getattr(day.dt, "tz", None) is not None:
        day = day.dt.tz_localize(None)  # the calendar day the business saw, not UTC's
    days = day.to_numpy().astype("datetime64[D]")  # NaT stays NaT and fails both comparisons below
    as_of_day = np.datetime64(pd.Timestamp(as_of).date(), "D")
    keep = days <= as_of_day
    if window_start is not None:
        keep &= days >= np.datetime64(pd.Timestamp(window_start).date(), "D")
    codes, ids = pd.factorize(orders["account_id"].to_numpy()[keep], sort=True)
    valid = codes >= 0  # a missing account_id cannot be attributed to anyone
    days = days[keep][valid].astype(np.int64)
    margin = np.nan_to_num(pd.to_numeric(orders["margin"]).to_numpy(dtype=float)[keep][valid])
    codes = codes[valid].astype(np.int64)
    if codes.size == 0:
        empty = {c: np.zeros(0) for c in ("x", "t_x", "T", "monetary", "first_margin", "mean_margin")}
        empty |= {"total_margin": np.zeros(0), "n_occasions": np.zeros(0, dtype=np.int64)}
        empty |= {"first_date": np.zeros(0, "datetime64[D]"), "last_date": np.zeros(0, "datetime64[D]")}
        return pd.DataFrame(empty, index=pd.Index([], name="account_id")).astype({"x": np.int64})
    # One int64 sort key (account, day) instead of a two-key groupby: ~4x faster on millions of orders.
    lo = days.min()
    span = days.max() - lo + 1
    key = codes * span + (days - lo)
    order = np.argsort(key, kind="stable")
    key = key[order]
    occ_start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    occ_margin = np.add.reduceat(margin[order], occ_start)
    occ_acc, occ_day = np.divmod(key[occ_start], span)
    acc_start = np.flatnonzero(np.r_[True, occ_acc[1:] != occ_acc[:-1]])
    acc_end = np.r_[acc_start[1:], occ_acc.size] - 1
    n_occ = acc_end - acc_start + 1
    total = np.add.reduceat(occ_margin, acc_start)
    first_margin = occ_margin[acc_start]
    first, last = occ_day[acc_start] + lo, occ_day[acc_end] + lo
    x = n_occ - 1
    out = pd.DataFrame(
        {
            "x": x,
            "t_x": (last - first) / 7.0,
            "T": (as_of_day.astype(np.int64) - first) / 7.0,
            "monetary": np.where(x > 0, (total - first_margin) / np.maximum(x, 1), 0.0),
            "first_margin": first_margin,
            "mean_margin": total / n_occ,
            "total_margin": total,
            "n_occasions": n_occ,
            "first_date": first.astype("datetime64[D]"),
            "last_date": last.astype("datetime64[D]"),
        },
        index=pd.Index(ids[occ_acc[acc_start]], name="account_id"),
    )
    return out


# ----------------------------------------------------------------------------------------- CLV
def _annuity_months(horizon_months, annual_discount_rate) -> float:
    months = np.arange(1, int(horizon_months) + 1)
    return float(((1.0 + annual_discount_rate) ** (-months / 12.0)).sum())


def fallback_table(summary, *, horizon_months=36, annual_discount_rate=0.10, prior_weeks=26.0):
    """CLV without a fitted model, used when BG/NBD cannot be trusted.

    rate = n_occasions / (T + prior_weeks) occasions per week (all occasions, first included; the
    ``prior_weeks`` of empty observation stop a brand-new account from extrapolating one order into
    a weekly habit); expected_occasions = rate * (52.1775/12) * Σ_{k=1..H} (1+d)^-k, the same monthly
    discounting as the model; expected_margin = mean margin over all occasions (so loss-making
    accounts get a negative CLV); p_alive = NaN (no churn model).
    """
    rate = summary["n_occasions"].to_numpy(float) / (summary["T"].to_numpy(float) + prior_weeks)
    occ = rate * WEEKS_PER_MONTH * _annuity_months(horizon_months, annual_discount_rate)
    margin = summary["mean_margin"].to_numpy(float)
    return pd.DataFrame(
        {
            "p_alive": np.nan,
            "expected_occasions": occ,
            "expected_margin": margin,
            "clv": occ * margin,
            "method": "fallback",
        },
        index=summary.index,
    )


def clv_table(summary, bgnbd, gg, *, horizon_months=36, annual_discount_rate=0.10) -> pd.DataFrame:
    """Per-account CLV = expected_margin * expected_occasions (discounted, see
    :func:`discounted_expected_transactions`); ``bgnbd=None`` gives :func:`fallback_table`.

    expected_margin rule (column ``method`` says which one was used for each account):
      * ``bgnbd+gamma_gamma``: x > 0 and m̄ > 0 with a GG fit: E[M | x, m̄] ([FH13]).
      * ``bgnbd+population_margin``: x == 0: the population mean repeat margin, p*gamma/(q-1) with a GG fit,
        else Σ x·m̄ / Σ x over repeaters (one purchase tells nothing about repeat margins).
      * ``bgnbd+observed_margin``: x > 0 with m̄ <= 0 or no GG fit: the observed mean repeat margin,
        so a loss-making account keeps a negative CLV instead of being shrunk to a positive mean.
    """
    if bgnbd is None:
        return fallback_table(
            summary, horizon_months=horizon_months, annual_discount_rate=annual_discount_rate
        )
    x, t_x, T = (summary[c].to_numpy(float) for c in ("x", "t_x", "T"))
    m = summary["monetary"].to_numpy(float)
    occ = discounted_expected_transactions(
        x, t_x, T, bgnbd, horizon_months=horizon_months, annual_discount_rate=annual_discount_rate
    )
    use_gg = (x > 0) & (m > 0) & (gg is not None)
    if gg is not None:
        pop = gg.p * gg.gamma / (gg.q - 1)
        margin = np.where(use_gg, conditional_expected_margin(x, np.where(use_gg, m, 0.0), gg), m)
    else:
        pop = float((x * m).sum() / x.sum()) if x.sum() > 0 else 0.0
        margin = m.copy()
    margin = np.where(x == 0, pop, margin)
    method = np.where(
        x == 0, "bgnbd+population_margin", np.where(use_gg, "bgnbd+gamma_gamma", "bgnbd+observed_margin")
    )
    return pd.DataFrame(
        {
            "p_alive": probability_alive(x, t_x, T, bgnbd),
            "expected_occasions": occ,
            "expected_margin": margin,
            "clv": occ * margin,
            "method": method,
        },
        index=summary.index,
    )


def _distrust(fit) -> str:
    """Why a fit must not be used ('' when it can)."""
    values = [getattr(fit, k) for k in ("r", "alpha", "a", "b", "p", "q", "gamma") if hasattr(fit, k)]
    if not np.all(np.isfinite(values)):
        return f"non-finite parameters ({fit.message})"
    if not fit.converged:
        return f"fit not trusted: {fit.message}"
    return ""


def estimate_clv(
    orders: pd.DataFrame,
    as_of: dt.date,
    *,
    horizon_months: int = 36,
    annual_discount_rate: float = 0.10,
    window_start: dt.date | None = None,
    min_repeaters: int = 20,
    min_gg_repeaters: int = 10,
) -> CLVResult:
    """Summarise orders, fit BG/NBD and Gamma-Gamma, tabulate CLV; degrade to simpler rules if needed.

    method = ``bgnbd+gamma_gamma`` normally; ``bgnbd+mean_margin`` when the GG fit is untrusted
    (fewer than ``min_gg_repeaters`` accounts with x > 0 and m̄ > 0, not converged, or q <= 1): the
    observed/population mean repeat margin is used instead; ``fallback`` (:func:`fallback_table`) when
    fewer than ``min_repeaters`` accounts repeat or the BG/NBD fit is untrusted. ``fallback_reason``
    says why. Accounts without orders in the window are not in the table.
    """
    summary = rfm_summary(orders, as_of, window_start=window_start)
    return estimate_clv_from_summary(
        summary,
        horizon_months=horizon_months,
        annual_discount_rate=annual_discount_rate,
        min_repeaters=min_repeaters,
        min_gg_repeaters=min_gg_repeaters,
    )


def estimate_clv_from_summary(
    summary: pd.DataFrame,
    *,
    horizon_months: int = 36,
    annual_discount_rate: float = 0.10,
    min_repeaters: int = 20,
    min_gg_repeaters: int = 10,
) -> CLVResult:
    """:func:`estimate_clv` from a summary already computed (selectors.purchase_summary) with the columns of
    :func:`rfm_summary` (at least x, t_x, T, monetary, mean_margin, n_occasions)."""
    kw = {"horizon_months": horizon_months, "annual_discount_rate": annual_discount_rate}
    n = len(summary)
    repeaters = int((summary["x"] > 0).sum())

    def fallback(reason: str) -> CLVResult:
        return CLVResult(clv_table(summary, None, None, **kw), None, None, "fallback", reason, n)

    if repeaters < min_repeaters:
        return fallback(f"only {repeaters} of {n} accounts have repeat purchases (minimum {min_repeaters})")
    bg = fit_bgnbd(summary["x"], summary["t_x"], summary["T"])
    if reason := _distrust(bg):
        return fallback(f"BG/NBD: {reason}")
    m = summary["monetary"].to_numpy(float)
    positive = int(((summary["x"] > 0) & (m > 0)).sum())
    gg, reason = None, ""
    if positive < min_gg_repeaters:
        reason = (
            f"Gamma-Gamma: only {positive} repeat accounts with positive margin (minimum {min_gg_repeaters})"
        )
    else:
        gg = fit_gamma_gamma(summary["x"], m)
        if problem := _distrust(gg):
            gg, reason = None, f"Gamma-Gamma: {problem}"
    method = "bgnbd+gamma_gamma" if gg is not None else "bgnbd+mean_margin"
    return CLVResult(clv_table(summary, bg, gg, **kw), bg, gg, method, reason, n)


# ----------------------------------------------------------------------------------------- simulation
def simulate_orders(n, *, as_of, r, alpha, a, b, p, q, gamma, max_weeks, rng, min_weeks=0.0):
    """Order-level DataFrame (account_id, date, margin) for benchmarks: first orders spread uniformly
    over [as_of - max_weeks, as_of - min_weeks], repeats from :func:`simulate_bgnbd` (given x and t_x,
    the other x-1 repeat times are uniform on (0, t_x)), every order's margin ~ Gamma(p, rate nu)."""
    T_days = rng.integers(int(min_weeks * 7), int(max_weeks * 7) + 1, n)
    sim = simulate_bgnbd(n, r, alpha, a, b, T_days / 7.0, rng)
    x, t_x = sim["x"].to_numpy(), sim["t_x"].to_numpy()
    acc = np.repeat(np.arange(n), x)
    pos = np.arange(acc.size) - np.repeat(np.cumsum(x) - x, x)
    when = np.where(pos == x[acc] - 1, t_x[acc], rng.uniform(0, 1, acc.size) * t_x[acc])
    ids = np.concatenate([np.arange(n), acc])
    offset = np.concatenate([np.zeros(n), np.floor(when * 7)])
    start = np.datetime64(pd.Timestamp(as_of).normalize().date()) - T_days.astype("timedelta64[D]")
    dates = start[ids] + offset.astype("timedelta64[D]")
    nu = rng.gamma(q, 1.0 / gamma, n)
    margin = rng.gamma(p, 1.0 / nu[ids])
    return pd.DataFrame({"account_id": ids, "date": dates.astype("datetime64[ns]"), "margin": margin})
