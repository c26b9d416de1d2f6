"""The two probability models under the CLV: BG/NBD for purchases and Gamma-Gamma for margins.

Statistical models, not database ones: likelihoods, maximum-likelihood fits, predictions and simulation.
scoring.clv summarises the orders, decides which fit to trust and tabulates the CLV per account with them.
Pure module: plain values and numpy arrays in, arrays, DataFrames and dataclasses out; no Django.
Everything is vectorised over accounts (a million accounts must take seconds, not minutes).

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

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

WEEKS_PER_MONTH = 52.1775 / 12
# exp(+-11.5) ~ 1e-5..1e5: a parameter pinned at this bound means the MLE is not interior (not trusted).
_LOG_BOUND = 11.5
_CHUNK = 100_000  # unique (x, T) rows per hyp2f1 block: bounds memory at ~36 months x 100k floats


@dataclass(frozen=True)
class BGNBDFit:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    converged: bool
    n: int
    message: str = ""


@dataclass(frozen=True)
class GammaGammaFit:
    p: float
    q: float
    gamma: float
    log_likelihood: float
    converged: bool
    n: int
    message: str = ""


# ----------------------------------------------------------------------------------------- BG/NBD
def _group_codes(*cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group id of each row and the first row of each group (pandas hashing beats np.unique(axis=0))."""
    frame = pd.DataFrame({str(i): np.asarray(c) for i, c in enumerate(cols)})
    codes = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    _, first = np.unique(codes, return_index=True)
    return codes, first


def _bgnbd_loglik(params, x, t_x, T, weights=None, *, grad=False, by_x=None):
    """BG/NBD log-likelihood per customer, [FHL05a] eq. (6), in log space:

    L = B(a, b+x)/B(a, b) * Γ(r+x) alpha^r / (Γ(r) (alpha+T)^(r+x))
        + δ(x>0) B(a+1, b+x-1)/B(a, b) * Γ(r+x) alpha^r / (Γ(r) (alpha+t_x)^(r+x)).

    ``ln L = A1 + logaddexp(U, V)`` with A1 = lnΓ(r+x) - lnΓ(r) + r ln alpha,
    U = ln B(a,b+x) - ln B(a,b) - (r+x) ln(alpha+T), V = ln B(a+1,b+x-1) - ln B(a,b) - (r+x) ln(alpha+t_x).
    Special functions depend on x only, so they are evaluated once per distinct x.
    With ``grad`` returns (sum of weighted ln L, gradient w.r.t. (r, alpha, a, b)); ``by_x`` caches
    ``np.unique(x, return_inverse=True)`` across optimiser steps.
    """
    r, alpha, a, b = params
    xu, xi = np.unique(x, return_inverse=True) if by_x is None else by_x
    xs = np.maximum(xu, 1.0)  # x == 0 has no V term; keeps betaln/digamma away from b-1 <= 0
    a1 = special.gammaln(r + xu) - special.gammaln(r) + r * np.log(alpha)
    bab = special.betaln(a, b)
    u0 = special.betaln(a, b + xu) - bab
    v0 = np.where(xu > 0, special.betaln(a + 1, b + xs - 1) - bab, -np.inf)
    rx = r + x
    log_at, log_atx = np.log(alpha + T), np.log(alpha + t_x)
    u = u0[xi] - rx * log_at
    v = v0[xi] - rx * log_atx
    lse = np.logaddexp(u, v)
    ll = a1[xi] + lse
    if not grad:
        return ll
    w = np.ones_like(ll) if weights is None else weights
    wv = np.exp(v - lse)  # posterior weight of "dropped after the last purchase"
    wu = 1.0 - wv
    psi_ab, psi_abx = special.digamma(a + b), special.digamma(a + b + xu)
    g_r = (special.digamma(r + xu) - special.digamma(r) + np.log(alpha))[xi] - wu * log_at - wv * log_atx
    g_alpha = r / alpha - rx * (wu / (alpha + T) + wv / (alpha + t_x))
    g_a = (psi_ab - psi_abx)[xi] + wv / a
    g_b = (psi_ab - psi_abx - special.digamma(b))[xi] + wu * special.digamma(b + xu)[xi]
    g_b = g_b + wv * special.digamma(b + xs - 1)[xi]
    gradient = np.array([np.dot(w, g) for g in (g_r, g_alpha, g_a, g_b)])
    return float(np.dot(w, ll)), gradient


def bgnbd_log_likelihood(x, t_x, T, fit_or_params) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood ([FHL05a] eq. 6); params as a fit or (r, alpha, a, b)."""
    params = _bg_params(fit_or_params)
    return _bgnbd_loglik(params, *(np.asarray(v, dtype=float) for v in (x, t_x, T)))


def _bg_params(fit_or_params) -> tuple[float, float, float, float]:
    if isinstance(fit_or_params, BGNBDFit):
        return fit_or_params.r, fit_or_params.alpha, fit_or_params.a, fit_or_params.b
    return tuple(float(v) for v in fit_or_params)


def _maximise(make_objective, n_rows, starts, n_params, subsample=50_000):
    """Best L-BFGS-B optimum over log-parameter starts; 'converged' also needs an interior optimum.

    ``make_objective(rows)`` returns (neg. mean log-lik, gradient) on a row subset. With many rows the
    starts race on a fixed random subsample and only the winner is polished on all rows: the optimum
    moves little and a million-row fit then costs a handful of full evaluations.
    """
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * n_params
    opts = {"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-8}

    def run(objective, start):
        return optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)

    starts = [np.log(s) for s in starts]
    if n_rows > 2 * subsample:
        sub = make_objective(np.random.default_rng(0).choice(n_rows, subsample, replace=False))
        races = [run(sub, s) for s in starts]
        starts = [min(races, key=lambda res: res.fun if np.isfinite(res.fun) else np.inf).x]
    full = make_objective(slice(None))
    results = [res for res in (run(full, s) for s in starts) if np.isfinite(res.fun)]
    if not results:
        return np.full(n_params, np.nan), False, "likelihood not finite at any start"
    best = min(results, key=lambda res: res.fun)
    ok, msg = bool(best.success), str(best.message)
    if not ok and float(np.max(np.abs(best.jac))) < 1e-5:
        # L-BFGS-B's line search gives up once float noise dominates: that is the optimum, not a failure.
        ok, msg = True, "converged (line search stopped at float precision)"
    if np.any(np.abs(best.x) > _LOG_BOUND - 1e-3):
        ok, msg = False, "parameter at bound (MLE not interior)"
    return np.exp(best.x), ok and bool(np.all(np.isfinite(best.x))), msg


def fit_bgnbd(x, t_x, T) -> BGNBDFit:
    """Maximum-likelihood BG/NBD fit ([FHL05a] eq. 6) on log-parameters with an analytic gradient.

    Identical (x, t_x, T) rows are collapsed into frequency weights; a few starting points are tried
    and the best optimum kept. ``log_likelihood`` is the sum over customers.
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    n = int(x.size)
    if n == 0:
        return BGNBDFit(*(np.nan,) * 5, converged=False, n=0, message="no customers")
    codes, first = _group_codes(x, t_x, T)
    w = np.bincount(codes).astype(float)
    xu, txu, Tu = x[first], t_x[first], T[first]

    def make_objective(rows):
        xr, txr, Tr, wr = xu[rows], txu[rows], Tu[rows], w[rows]
        by_x, total = np.unique(xr, return_inverse=True), wr.sum()

        def objective(theta):
            val, g = _bgnbd_loglik(np.exp(theta), xr, txr, Tr, wr, grad=True, by_x=by_x)
            if not np.isfinite(val):
                return np.inf, np.zeros(4)
            return -val / total, -g * np.exp(theta) / total

        return objective

    # alpha scales with the time unit: start it where r/alpha matches the observed repeat rate.
    rate = max(float(x.mean()) / max(float(T.mean()), 1e-9), 1e-6)
    starts = [(r0, r0 / rate, a0, b0) for r0, a0, b0 in ((1.0, 1.0, 3.0), (0.3, 0.7, 2.0), (3.0, 2.0, 8.0))]
    params, ok, msg = _maximise(make_objective, xu.size, starts, 4)
    ll = float(np.dot(w, _bgnbd_loglik(params, xu, txu, Tu))) if np.all(np.isfinite(params)) else np.nan
    return BGNBDFit(*(float(v) for v in params), log_likelihood=ll, converged=ok, n=n, message=msg)


def probability_alive(x, t_x, T, fit) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + δ(x>0) a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))  [FHL05a], [FHL08]."""
    r, alpha, a, b = _bg_params(fit)
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    xs = np.maximum(x, 1.0)
    log_odds = np.log(a) - np.log(b + xs - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(x > 0, np.exp(-np.logaddexp(0.0, log_odds)), 1.0)


def _future_if_alive(ts, x, T, params) -> np.ndarray:
    """E[Y(t) | alive at T, x, T]: expected occasions in (T, T+t] for a customer still alive.

    [FHL05a] eq. (10) is E[Y(t) | x, t_x, T] = P(alive) * G with
        G = (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)],
        z = t/(alpha+T+t).
    Euler's transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) turns the bracket into
    1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose upper parameters do not grow with x, so the
    series stays tame for heavy buyers (the textbook form overflows there). Entries still non-finite
    (e.g. a == 1 exactly) are recomputed by quadrature (:func:`_future_if_alive_quadrature`).
    Returns shape (len(x), len(ts)).
    """
    r, alpha, a, b = params
    z = ts[None, :] / (alpha + T[:, None] + ts[None, :])
    c = a + b + x[:, None] - 1
    with np.errstate(all="ignore"):
        tail = np.exp((a - 1) * np.log1p(-z)) * special.hyp2f1(a + b - 1 - r, a - 1, c, z)
        g = c / (a - 1) * (1.0 - tail)
    bad = ~np.isfinite(g) | (g < 0)
    if bad.any():
        rows, cols = np.nonzero(bad)
        g[rows, cols] = _future_if_alive_quadrature(ts[cols], x[rows], T[rows], params)
    return g


def _future_if_alive_quadrature(t, x, T, params, n_nodes: int = 96) -> np.ndarray:
    """Guard for hyp2f1: the same G by Gauss-Jacobi quadrature of its posterior integral.

    Given alive at T, λ ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x) independently; a live customer buys
    (1/p)(1 - e^{-λpt}) times in t ([FHL05a] eq. 7), so G = E_p[(1 - (1 + p t/(alpha+T))^-(r+x)) / p].
    Loops over distinct x only (nodes depend on b+x), never over accounts.
    """
    r, alpha, a, b = params
    out = np.empty(len(t))
    for xv in np.unique(x):
        sel = x == xv
        u, w = special.roots_jacobi(n_nodes, b + xv - 1, a - 1)  # weight (1-u)^(b+x-1) (1+u)^(a-1)
        p = (1 + u) / 2
        s = (t[sel] / (alpha + T[sel]))[:, None]
        h = -np.expm1(-(r + xv) * np.log1p(p[None, :] * s)) / p[None, :]
        out[sel] = h @ (w / w.sum())
    return out


def conditional_expected_transactions(t, x, t_x, T, fit) -> np.ndarray:
    """E[Y(t) | x, t_x, T], expected occasions in (T, T+t] ([FHL05a] eq. 10); ``t`` is a scalar."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    codes, first = _group_codes(x, T)
    g = _future_if_alive(np.array([float(t)]), x[first], T[first], _bg_params(fit))[:, 0]
    return probability_alive(x, t_x, T, fit) * g[codes]


def expected_transactions(t, fit) -> np.ndarray:
    """Unconditional E[X(t)], [FHL05a] eq. 9:

        E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))].

    Equals eq. 10 at x = t_x = T = 0, which is how it is computed.
    """
    t = np.atleast_1d(np.asarray(t, dtype=float))
    return _future_if_alive(t, np.zeros(1), np.zeros(1), _bg_params(fit))[0]


def discounted_expected_transactions(x, t_x, T, fit, *, horizon_months=36, annual_discount_rate=0.10):
    """Σ_{k=1..H} (E[Y(k months)] - E[Y((k-1) months)]) / (1+d)^k, d = (1+annual)^(1/12) - 1.

    Months are 52.1775/12 weeks. P(alive) factors out of eq. 10, so the hyp2f1 work is done once
    per distinct (x, T) and in blocks to bound memory.
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if horizon_months <= 0 or x.size == 0:
        return np.zeros(x.size)
    months = np.arange(1, int(horizon_months) + 1)
    disc = (1.0 + annual_discount_rate) ** (-months / 12.0)
    ts = months * WEEKS_PER_MONTH
    codes, first = _group_codes(x, T)
    xu, Tu = x[first], T[first]
    per_group = np.empty(xu.size)
    params = _bg_params(fit)
    for lo in range(0, xu.size, _CHUNK):
        g = _future_if_alive(ts, xu[lo : lo + _CHUNK], Tu[lo : lo + _CHUNK], params)
        per_group[lo : lo + _CHUNK] = np.diff(g, axis=1, prepend=0.0) @ disc
    return probability_alive(x, t_x, T, fit) * per_group[codes]


# ----------------------------------------------------------------------------------------- Gamma-Gamma
def _gg_loglik(params, x, m, *, grad=False, by_x=None):
    """Gamma-Gamma log-likelihood per customer, [FH13] eq. (4):

    f(m̄ | p, q, gamma; x) = Γ(px+q) / (Γ(px) Γ(q)) * gamma^q m̄^(px-1) x^(px) / (gamma + m̄ x)^(px+q),
    m̄ = mean value of the x repeat transactions (x > 0, m̄ > 0).
    With ``grad`` returns (sum ln f, gradient w.r.t. (p, q, gamma)).
    """
    p, q, gam = params
    xu, xi = np.unique(x, return_inverse=True) if by_x is None else by_x
    log_m, log_x = np.log(m), np.log(x)
    log_gmx = np.log(gam + m * x)
    px = p * x
    ll = (
        (special.gammaln(p * xu + q) - special.gammaln(p * xu))[xi]
        - special.gammaln(q)
        + q * np.log(gam)
        + (px - 1) * log_m
        + px * log_x
        - (px + q) * log_gmx
    )
    if not grad:
        return ll
    psi_pxq = special.digamma(p * xu + q)[xi]
    g_p = x * (psi_pxq - special.digamma(p * xu)[xi] + log_m + log_x - log_gmx)
    g_q = psi_pxq - special.digamma(q) + np.log(gam) - log_gmx
    g_gam = q / gam - (px + q) / (gam + m * x)
    return float(ll.sum()), np.array([g_p.sum(), g_q.sum(), g_gam.sum()])


def gamma_gamma_log_likelihood(x, m, fit_or_params) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood ([FH13] eq. 4); params as a fit or (p, q, gamma)."""
    params = (
        (fit_or_params.p, fit_or_params.q, fit_or_params.gamma)
        if isinstance(fit_or_params, GammaGammaFit)
        else tuple(float(v) for v in fit_or_params)
    )
    return _gg_loglik(params, np.asarray(x, dtype=float), np.asarray(m, dtype=float))


def fit_gamma_gamma(x, m) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit ([FH13]) on customers with x > 0 and m̄ > 0 (others dropped).

    ``n`` counts the customers used. ``converged`` is False unless the optimum is interior and q > 1
    (E[M] = p*gamma/(q-1) needs it).
    """
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    use = (x > 0) & (m > 0) & np.isfinite(m)
    x, m = x[use], m[use]
    n = int(x.size)
    if n == 0:
        return GammaGammaFit(*(np.nan,) * 4, converged=False, n=0, message="no repeat customers")

    def make_objective(rows):
        xr, mr = x[rows], m[rows]
        by_x, total = np.unique(xr, return_inverse=True), xr.size

        def objective(theta):
            val, g = _gg_loglik(np.exp(theta), xr, mr, grad=True, by_x=by_x)
            if not np.isfinite(val):
                return np.inf, np.zeros(3)
            return -val / total, -g * np.exp(theta) / total

        return objective

    # gamma scales with the currency: pick it so that the start's E[M] = p*gamma/(q-1) is the sample mean.
    mean_m = float(m.mean())
    starts = [(p0, q0, mean_m * (q0 - 1) / p0) for p0, q0 in ((1.0, 2.0), (5.0, 4.0), (20.0, 10.0))]
    params, ok, msg = _maximise(make_objective, n, starts, 3)
    if ok and params[1] <= 1:
        ok, msg = False, "q <= 1: population mean margin undefined"
    ll = float(_gg_loglik(params, x, m).sum()) if np.all(np.isfinite(params)) else np.nan
    return GammaGammaFit(*(float(v) for v in params), log_likelihood=ll, converged=ok, n=n, message=msg)


def conditional_expected_margin(x, m, fit: GammaGammaFit) -> np.ndarray:
    """E[M | x, m̄] = (gamma + m̄ x) p / (p x + q - 1)  [FHL05b], [FH13]; at x = 0 the mean p*gamma/(q-1)."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    return (fit.gamma + m * x) * fit.p / (fit.p * x + fit.q - 1)


# ----------------------------------------------------------------------------------------- simulation
def simulate_bgnbd(n, r, alpha, a, b, T_weeks, rng: np.random.Generator) -> pd.DataFrame:
    """Draw (x, t_x, T) from the BG/NBD process [FHL05a]: λ ~ Gamma(r, rate alpha), p ~ Beta(a, b); while
    alive, purchases are Poisson(λ); after each repeat purchase the customer drops out with prob. p.

    Vectorised: the customer makes J ~ Geometric(p) repeat purchases before dropping, N(T) ~ Poisson(λT)
    would happen in (0, T] if alive throughout, so x = min(J, N). Given N = k, purchase times are
    uniform order statistics, so the x-th lies at T·Beta(x, k-x+1). ``T_weeks`` is scalar or per-customer.
    """
    T = np.broadcast_to(np.asarray(T_weeks, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    k = rng.poisson(lam * T)
    x = np.minimum(rng.geometric(np.clip(p, 1e-300, 1.0)), k)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(k - x + 1, 1)), 0.0)
    return pd.DataFrame({"x": x.astype(np.int64), "t_x": t_x, "T": T})


def simulate_gamma_gamma(x, p, q, gamma, rng: np.random.Generator) -> np.ndarray:
    """Mean of x transaction values per customer [FH13]: nu ~ Gamma(q, rate gamma), z_i ~ Gamma(p, rate nu).

    A sum of x such z_i is Gamma(px, rate nu); customers with x == 0 get 0 (as in :func:`rfm_summary`).
    """
    x = np.asarray(x, dtype=float)
    nu = rng.gamma(q, 1.0 / gamma, x.size)
    total = rng.gamma(np.maximum(p * x, 1e-12), 1.0 / nu)
    return np.where(x > 0, total / np.maximum(x, 1.0), 0.0)
