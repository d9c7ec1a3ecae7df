"""The U-curve model: a Gaussian process over log10(LR) fitted to every finished run.

Why a Gaussian process (and not the lowest noisy mean, or a local quadratic):

- it reads every seed of every LR and round at once, with a noise term, so one lucky mean
  cannot carry the answer, and a point trained with more seeds weighs more;
- its posterior gives what the answer must say with it: an interval for where the optimum
  lies (the spread of the argmin over joint posterior draws), the expected objective at the
  pick with its uncertainty, and a good band read off the fitted mean rather than from grid
  points;
- a quadratic has one shape; real U-curves are asymmetric (a gentle slope at small LRs, a
  wall at divergence), which a squared-exponential GP follows with a length scale chosen by
  the marginal likelihood.

Conventions: the fit works on *scores* (the objective to minimise: a maximised metric is
negated), on a log scale when every score is positive (losses: the noise of a loss is roughly
proportional to its size, and regret is relative). A diverged seed is a censored observation,
worse than anything seen: it enters the fit at the censoring bound, the worst finite score of
the curve (a lower bound for its true value, not an arbitrary penalty). The recommended LR is
never past the smallest LR where a seed diverged.

numpy only: the fits are small (tens to a few hundred runs), and a hyperparameter grid of
Cholesky factorisations costs milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

# Decades of LR. Longer over-smooths the basin. Shorter lets the posterior wander between a
# coarse grid's points (half a decade apart) once a refine adds dense points elsewhere: on the
# demo refined at 32 per decade the likelihood chose 0.22, the optimum's interval spread to
# 0.00067-0.059 and the pick moved to a noise dip beside the wall (0.059); with 0.33 and 0.5
# only it stayed at 0.042, and benchmarks/bench_answer.py scored the same or better per case.
LENGTH_SCALES = (0.33, 0.5)
SIGNAL_VARIANCES = (0.25, 1.0, 4.0)  # x the variance of the standardised scores
NOISE_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)  # x each run's between-seed noise variance
GRID_PER_DECADE = 96  # where the fitted curve is evaluated
DRAWS = 400  # joint posterior draws for the optimum's interval
UCB_KAPPA = 1.0  # the upper confidence bound: mean + kappa x sd of the fitted curve
ROBUST_HALF_WIDTH = 0.1  # decades: the robust rule's window (a factor of 1.26 either way)

# decades: the sds of seeds' stability edges the divergence chance's fit chooses from; the
# benchmark's 10-seed truths put their edges within 0.08-0.25 decades of each other (sd about
# 0.03-0.08), the floor is above that: a few seeds cannot tell a sharp edge from a lucky draw
EDGE_SDS = (0.1, 0.15, 0.25, 0.4, 0.6, 1.0)
ARITHMETIC = True  # pick on the arithmetic mean of runs, not the fit's geometric mean
HETEROSCEDASTIC = True  # each LR's own noise (shrunk), or one noise level for the curve
INTERVAL = (0.1, 0.9)  # quantiles of the argmin over draws: the optimum's interval
RNG_SEED = 20261129  # draws and bootstraps are seeded: same runs, same answer


class Observation(NamedTuple):
    """One finished run on the curve."""

    lr: float
    score: float  # the objective to minimise; +inf for a diverged run
    seed: int
    extra_var: float = 0.0  # added noise variance, on the fit's scale: an extrapolated run


class CurveFit(NamedTuple):
    """The fitted U-curve on a dense grid of log10(LR), in score units (to minimise)."""

    x: np.ndarray  # log10(LR) of the grid, within the trained range
    mean: np.ndarray  # posterior mean of the curve
    sd: np.ndarray  # posterior sd of the curve (not of one seed's run)
    low: np.ndarray  # the mean -/+ one sd, in score units
    high: np.ndarray
    length_scale: float  # decades
    noise_sd: float  # one run's noise around the curve, in score units (at the optimum)
    log_scale: bool
    stable_max: float  # log10 of the largest LR the answer may use (below any divergence)
    draws_argmin: np.ndarray  # log10(LR) of the optimum in each posterior draw
    noise_var: np.ndarray  # one run's noise variance around the curve at each grid point
    p_diverge: np.ndarray  # the chance a run diverges at each grid point (a logistic fit)
    diverged_score: float  # what a diverged run is worth: the curve's worst finite score


def _to_score_scale(y: np.ndarray, log_scale: bool) -> np.ndarray:
    return np.log(y) if log_scale else y


def _from_score_scale(z: np.ndarray, log_scale: bool) -> np.ndarray:
    return np.exp(z) if log_scale else z


def _kernel(a: np.ndarray, b: np.ndarray, length: float, signal: float) -> np.ndarray:
    d = a[:, None] - b[None, :]
    return signal * np.exp(-0.5 * (d / length) ** 2)


NOISE_PRIOR_DOF = 4.0  # how many runs' worth of weight the typical noise gets in each LR's


def noise_variances(x: np.ndarray, z: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """Each observation's noise variance: its LR's between-seed variance, shrunk toward the
    typical one (the median over LRs with 2+ finished runs) with ``NOISE_PRIOR_DOF`` runs of
    weight. Runs are far noisier near divergence than at small LRs; a single noise level
    would call the optimum's structure noise. Runs marked in ``censored`` (diverged, or
    extrapolated) get the typical variance and measure none."""
    per_lr: dict[float, tuple[float, int]] = {}
    for value in np.unique(x):
        group = z[(x == value) & ~censored]
        if len(group) > 1:
            per_lr[float(value)] = (float(np.var(group, ddof=1)), len(group) - 1)
    typical = float(np.median([v for v, _ in per_lr.values()])) if per_lr else 0.0
    typical = max(typical, 1e-4)
    out = np.full(len(x), typical)
    for i, value in enumerate(x):
        if censored[i] or float(value) not in per_lr:
            continue
        var, dof = per_lr[float(value)]
        out[i] = (NOISE_PRIOR_DOF * typical + dof * var) / (NOISE_PRIOR_DOF + dof)
    return out


def fit_curve(observations: Sequence[Observation]) -> CurveFit | None:
    """Fit the U-curve to ``observations`` (see `_fit_curve`), with one BLAS thread: the
    matrices are small, and a multi-threaded BLAS spends more time synchronising threads
    (30x more on a busy 2-core machine) than factorising them."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _fit_curve(observations)


def balance_seeds(observations: Sequence[Observation], log_scale: bool) -> list[Observation]:
    """Observations with each *partial* seed's level matched to the full seeds'.

    A resolve round trains one more seed at a few LRs only. A seed's runs share the initial
    weights and the batch order, so a seed is better or worse than another at every LR
    (neighbouring LRs correlate 0.5-0.9 on the benchmark's truth): a lucky extra seed at five
    LRs made a dip there, and the optimum's interval shrank onto them (the demo: 0.0273-0.0412,
    where the three full seeds alone say 0.0081-0.0365). A seed at fewer than half the LRs is
    compared with the mean of the seeds at the most LRs, at the LRs they share, and its mean
    difference (on the fit's scale) is removed: it informs the curve's shape; the level is
    then moved by the mean difference over all seeds (the full ones counting 0), so it is every
    seed's, not the full seeds' alone.
    """
    lrs = {o.lr for o in observations}
    at: dict[int, set[float]] = {}
    for o in observations:
        at.setdefault(o.seed, set()).add(o.lr)
    most = max((len(v) for v in at.values()), default=0)
    full = {s for s, v in at.items() if len(v) == most}
    partial = {s for s, v in at.items() if len(v) < len(lrs) / 2 and s not in full}
    if not partial:
        return list(observations)

    def scale(v: float) -> float:
        return math.log(v) if log_scale else v

    level: dict[float, list[float]] = {}
    for o in observations:
        if o.seed in full and math.isfinite(o.score):
            level.setdefault(o.lr, []).append(scale(o.score))
    base = {lr: float(np.mean(v)) for lr, v in level.items()}
    offset: dict[int, float] = {}
    for seed in partial:
        d = [
            scale(o.score) - base[o.lr]
            for o in observations
            if o.seed == seed and math.isfinite(o.score) and o.lr in base
        ]
        offset[seed] = float(np.mean(d)) if d else 0.0
    # the level itself is every seed's: the full seeds' shifted by the seeds' mean offset
    shift = sum(offset.values()) / (len(full) + len(offset))
    out = []
    for o in observations:
        if math.isfinite(o.score):
            z = scale(o.score) - offset.get(o.seed, 0.0) + shift
            o = o._replace(score=math.exp(z) if log_scale else z)
        out.append(o)
    return out


def _fit_curve(observations: Sequence[Observation]) -> CurveFit | None:
    """Fit the U-curve to ``observations``; None with fewer than 3 finite runs or 2 LRs.

    Hyperparameters (length scale, signal variance, noise variance) are picked on a grid by
    the marginal likelihood; the noise grid is scaled by the between-seed variance the seeds
    measure directly. Partial seeds are levelled first (`balance_seeds`).
    """
    finite = [o for o in observations if math.isfinite(o.score)]
    if len(finite) < 3 or len({o.lr for o in finite}) < 2:
        return None
    log_scale = all(o.score > 0 for o in finite)
    # extrapolated runs (their own noise) are not levelled: they share no LR with a seed
    observations = balance_seeds([o for o in observations if not o.extra_var], log_scale) + [
        o for o in observations if o.extra_var
    ]
    finite = [o for o in observations if math.isfinite(o.score)]
    diverged_lrs = [o.lr for o in observations if not math.isfinite(o.score)]
    ok_lrs = [o.lr for o in finite]
    stable_max = math.log10(max(ok_lrs))
    if diverged_lrs:
        first = min(diverged_lrs)
        below = [lr for lr in ok_lrs if lr < first]
        stable_max = math.log10(max(below)) if below else math.log10(min(ok_lrs))
    z_finite = _to_score_scale(np.array([o.score for o in finite]), log_scale)
    worst = float(z_finite.max())
    x = np.log10([o.lr for o in observations])
    z = np.array(
        [
            float(_to_score_scale(np.array(o.score), log_scale)) if math.isfinite(o.score)
            else worst
            for o in observations
        ]
    )  # fmt: skip
    center, scale = float(z.mean()), float(z.std()) or 1.0
    zs = (z - center) / scale
    censored = np.array([not math.isfinite(o.score) for o in observations])
    extra = np.array([o.extra_var for o in observations]) / scale**2
    noise0 = noise_variances(x, zs, censored | (extra > 0))
    if not HETEROSCEDASTIC:
        noise0 = np.full(len(x), float(np.median(noise0)))
    best: tuple[float, float, float, np.ndarray] | None = None
    for length in LENGTH_SCALES:
        for signal in SIGNAL_VARIANCES:
            for factor in NOISE_FACTORS:
                noise = noise0 * factor + extra
                ll = _log_likelihood(x, zs, length, signal, noise)
                if best is None or ll > best[0]:
                    best = (ll, length, signal, noise)
    assert best is not None
    _, length, signal, noise = best
    lo = float(x.min())
    hi = float(max(x.max(), lo))
    n_grid = max(2, math.ceil((hi - lo) * GRID_PER_DECADE) + 1)
    xs = np.linspace(lo, hi, n_grid)
    mean, cov = _posterior(x, zs, xs, length, signal, noise)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    usable = xs <= stable_max + 1e-9
    rng = np.random.default_rng(RNG_SEED)
    draws = _draws(mean, cov, rng, DRAWS)
    masked = np.where(usable[None, :], draws, np.inf)
    argmin = xs[np.argmin(masked, axis=1)]
    mean_s = mean * scale + center
    sd_s = sd * scale
    # one run's noise along the grid: each trained LR's, interpolated (log) between them
    ux = np.unique(x)
    run_noise, measured = noise - extra, ~censored & (extra == 0)
    at_ux = [run_noise[(x == u) & measured] if ((x == u) & measured).any()
             else run_noise[x == u] for u in ux]  # fmt: skip
    noise_grid = np.exp(np.interp(xs, ux, np.log([float(v[0]) for v in at_ux]))) * scale**2
    return CurveFit(
        x=xs,
        mean=_from_score_scale(mean_s, log_scale),
        sd=sd_s,
        low=_from_score_scale(mean_s - sd_s, log_scale),
        high=_from_score_scale(mean_s + sd_s, log_scale),
        length_scale=length,
        noise_sd=math.sqrt(float(noise[int(np.argmin(mean_at(x, xs, mean)))])) * scale,
        log_scale=log_scale,
        stable_max=stable_max,
        draws_argmin=argmin,
        noise_var=noise_grid,
        p_diverge=divergence_chance(x, censored, np.array([o.seed for o in observations]), xs),
        diverged_score=float(np.max(z_finite)) if not log_scale else float(np.exp(worst)),
    )


def divergence_chance(
    x: np.ndarray, diverged: np.ndarray, seeds: np.ndarray, xs: np.ndarray
) -> np.ndarray:
    """The chance that a run diverges at each of ``xs`` (log10 LR), from where each seed's
    runs started to diverge.

    Each seed has a stability edge: its runs below it finish, from it on they diverge. A
    seed's first diverged LR and the largest LR it finished below that bracket its edge; a
    seed that never diverged has its edge past its largest LR. The edges are taken as normal
    in log10 LR, fitted by maximum likelihood to those intervals, their sd no smaller than
    ``EDGE_SDS[0]`` (a few seeds that all survived an LR say little about the next seed);
    the chance at an LR is the share of edges below it. What a seed does past its first
    divergence (finishing again at a larger LR, as chaotic runs do) is not evidence about
    its edge. Zero everywhere when no run diverged.
    """
    if not diverged.any():
        return np.zeros(len(xs))
    lows, highs = [], []
    for seed in np.unique(seeds):
        mine = seeds == seed
        bad, good = x[mine & diverged], x[mine & ~diverged]
        if bad.size:
            first = float(bad.min())
            below = good[good < first]
            lows.append(float(below.max()) if below.size else -math.inf)
            highs.append(first)
        elif good.size:
            lows.append(float(good.max()))
            highs.append(math.inf)
    lo, hi = np.array(lows), np.array(highs)
    centres = np.arange(float(x.min()) - 1.0, float(x.max()) + 1.0, 0.01)
    best: tuple[float, float, float] | None = None
    for sd in EDGE_SDS:
        mass = _normal_cdf((hi[None, :] - centres[:, None]) / sd) - _normal_cdf(
            (lo[None, :] - centres[:, None]) / sd
        )
        ll = np.log(np.clip(mass, 1e-300, None)).sum(axis=1)
        i = int(np.argmax(ll))
        if best is None or ll[i] > best[0] + 1e-9:
            best = (float(ll[i]), float(centres[i]), sd)
    assert best is not None
    _, centre, sd = best
    return _normal_cdf((xs - centre) / sd)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """The standard normal CDF (Abramowitz and Stegun 7.1.26 for erf, error below 1.5e-7),
    infinite arguments included."""
    z = np.asarray(z, dtype=float)
    t_in = np.abs(np.nan_to_num(z, posinf=40.0, neginf=-40.0)) / math.sqrt(2)
    t = 1.0 / (1.0 + 0.3275911 * t_in)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-(t_in**2))
    return np.asarray(0.5 * (1.0 + np.sign(z) * erf))


def mean_at(x: np.ndarray, xs: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """The fitted mean (on grid ``xs``) at each observation's ``x``."""
    return np.interp(x, xs, mean)


def _log_likelihood(
    x: np.ndarray, z: np.ndarray, length: float, signal: float, noise: np.ndarray
) -> float:
    K = _kernel(x, x, length, signal) + np.diag(noise)
    try:
        L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        return -math.inf
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, z))
    log_det = 2 * np.log(np.diag(L)).sum()
    return float(-0.5 * (z @ alpha + log_det + len(x) * math.log(2 * math.pi)))


def _posterior(
    x: np.ndarray, z: np.ndarray, xs: np.ndarray, length: float, signal: float, noise: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The posterior mean and covariance of the (noise-free) curve at ``xs``."""
    K = _kernel(x, x, length, signal) + np.diag(noise)
    L = np.linalg.cholesky(K)
    Ks = _kernel(x, xs, length, signal)  # (n, m)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, z))
    V = np.linalg.solve(L, Ks)
    mean = Ks.T @ alpha
    cov = _kernel(xs, xs, length, signal) - V.T @ V
    return mean, cov


def _draws(mean: np.ndarray, cov: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` joint draws of the curve (rows), through a Cholesky factor with a growing jitter
    (a smooth kernel's covariance is near-singular; an eigendecomposition is ~50x slower)."""
    sym = (cov + cov.T) / 2
    scale = float(np.mean(np.diag(sym))) or 1.0
    for jitter in (1e-10, 1e-8, 1e-6, 1e-4, 1e-2):
        try:
            root = np.linalg.cholesky(sym + jitter * scale * np.eye(len(mean)))
            break
        except np.linalg.LinAlgError:
            continue
    else:
        root = np.diag(np.sqrt(np.clip(np.diag(sym), 0.0, None)))
    return mean[None, :] + rng.standard_normal((n, len(mean))) @ root.T


class Pick(NamedTuple):
    """What the fit recommends."""

    lr: float  # the minimiser of the rule's curve, within the stable range
    rule: str  # "ucb", "mean" or "robust"
    mean_lr: float  # the fitted mean's minimiser (for comparison)
    ucb_lr: float  # the upper confidence bound's minimiser
    robust_lr: float  # the minimiser of the bound's worst value within ROBUST_HALF_WIDTH
    interval: tuple[float, float]  # where the optimum lies (INTERVAL quantiles of the draws)
    expected: float  # the fitted objective at the pick (score units)
    expected_low: float  # one sd below/above, score units
    expected_high: float
    band: tuple[float, float]  # contiguous LRs around the pick within tolerance, from the fit
    band_decades: float


def pick(fit: CurveFit, tolerance: float, rule: str = "ucb", lr_cap: float | None = None) -> Pick:
    """The recommended LR from a fitted curve, with its interval and expected score.

    - ``ucb`` (the default): minimise the expected score of one more run at that LR, with
      the fit's uncertainty on top: the fitted mean made an arithmetic mean over runs
      (``ARITHMETIC``: runs spread more near the cliff, and a user's run is one of them),
      mixed with the diverged score by the chance a run diverges there (`divergence_chance`),
      plus ``UCB_KAPPA`` x the fit's sd. Where the curve is well measured and far from any
      divergence this is the fitted mean's minimiser; near the cliff, or where few runs pin
      the curve down, the pick moves back to ground the runs hold.
    - ``mean``: the fitted mean's minimiser alone.
    - ``robust``: the ``ucb`` curve's worst value within ``ROBUST_HALF_WIDTH`` decades either
      way (the middle of the basin); more conservative, compared on the benchmark.

    ``lr_cap``: no pick above it (the largest stable LR, when runs past it collapsed).
    """
    usable = fit.x <= fit.stable_max + 1e-9
    if lr_cap is not None:
        usable &= fit.x <= math.log10(lr_cap) + 1e-9
    z = np.log(fit.mean) if fit.log_scale else fit.mean
    mean_i = _argmin_where(z, usable)
    # On a log scale the fit follows the median run (a geometric mean over seeds); a user's
    # run is worth its arithmetic mean, exp(z + var/2) for log-normal noise, which is higher
    # where runs spread more: near the cliff, where a geometric mean leans (ARITHMETIC).
    arith = z + 0.5 * fit.noise_var if fit.log_scale and ARITHMETIC else z
    ucb = with_divergence(fit, arith + UCB_KAPPA * fit.sd)
    ucb_i = _argmin_where(ucb, usable)
    robust_i = _argmin_where(window_max(fit.x, ucb, ROBUST_HALF_WIDTH), usable)
    i = {"ucb": ucb_i, "mean": mean_i, "robust": robust_i}[rule]
    lo, hi = np.quantile(fit.draws_argmin, INTERVAL)
    x_pick = float(fit.x[i])
    lo, hi = min(float(lo), x_pick), max(float(hi), x_pick)
    best = float(fit.mean[i])
    threshold = best + tolerance * abs(best)
    a = b = i
    while a > 0 and fit.mean[a - 1] <= threshold:
        a -= 1
    while b < len(fit.x) - 1 and fit.mean[b + 1] <= threshold and usable[b + 1]:
        b += 1
    return Pick(
        lr=float(10**x_pick),
        rule=rule,
        mean_lr=float(10 ** fit.x[mean_i]),
        ucb_lr=float(10 ** fit.x[ucb_i]),
        robust_lr=float(10 ** fit.x[robust_i]),
        interval=(float(10**lo), float(10**hi)),
        expected=best,
        expected_low=float(fit.low[i]),
        expected_high=float(fit.high[i]),
        band=(float(10 ** fit.x[a]), float(10 ** fit.x[b])),
        band_decades=float(fit.x[b] - fit.x[a]),
    )


def with_divergence(fit: CurveFit, z: np.ndarray) -> np.ndarray:
    """A run's expected score at each grid point when it may diverge: ``z`` where it does
    not, the worst finite score where it does (a diverged run is a wasted run)."""
    p = fit.p_diverge
    if not p.any():
        return z
    worth = np.exp(z) if fit.log_scale else z
    mixed = (1 - p) * worth + p * fit.diverged_score
    return np.asarray(np.log(mixed) if fit.log_scale else mixed)


def window_max(x: np.ndarray, values: np.ndarray, half_width: float) -> np.ndarray:
    """The largest of ``values`` within ``half_width`` of each ``x`` (x sorted, evenly spaced)."""
    if len(x) < 2:
        return values.copy()
    k = round(half_width / float(x[1] - x[0]))
    padded = np.pad(values, k, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1)
    return windows.max(axis=1)


def _argmin_where(values: np.ndarray, usable: np.ndarray) -> int:
    return int(np.argmin(np.where(usable, values, np.inf))) if usable.any() else 0


def fitted_at(fit: CurveFit, lr: float) -> float:
    """The fitted mean at ``lr`` (linear in log10 LR between grid points; clamped at the ends)."""
    return float(np.interp(math.log10(lr), fit.x, fit.mean))


SENSITIVITY_HALF_WIDTH = 0.5  # decades either side of the good band's middle


def sensitivity(fit: CurveFit, band: tuple[float, float], initial: float) -> float:
    """How fussy the curve is about its LR, in [0, 1]: the fitted objective's relative rise over
    its best, capped at 1 (double the loss), averaged over the decade of LRs centred (on a log
    scale) on the good ``band``'s middle.

    An LR past the smallest diverged one counts as ``initial`` (the objective before training)
    when that is known and worse; past the trained range the curve's edge value is read. 0: any
    LR within half a decade of the good band is as good as the best (Adam on easy data, a
    hypergradient method); 1: every one of them at least doubles the loss. Averaging over a
    decade rather than reading a 3x miss either side of the pick keeps the wall at divergence
    from deciding alone: a pick beside the wall made a flat Adam curve (good band 0.97 decades)
    and a sharp SGD one (0.25) read 0.98 and 1.2 on compare-optimizers.yaml; on the same fits
    this reads 0.04 and 0.27 (docs/answer.md, "Sensitivity").
    """
    middle = (math.log10(band[0]) + math.log10(band[1])) / 2
    xs = np.linspace(middle - SENSITIVITY_HALF_WIDTH, middle + SENSITIVITY_HALF_WIDTH, 41)
    usable = fit.x <= fit.stable_max + 1e-9
    best = float(np.min(fit.mean[usable] if usable.any() else fit.mean))
    values = np.interp(xs, fit.x, fit.mean)
    if math.isfinite(initial):
        past = xs > fit.stable_max + 1e-9
        values = np.where(past & (initial > values), initial, values)
    rises = np.clip((values - best) / max(abs(best), 1e-12), 0.0, 1.0)
    return float(np.mean(rises))


def probability_best(scores: np.ndarray, n_boot: int = 400) -> np.ndarray:
    """The probability that each LR is the best, from a bootstrap over seeds.

    ``scores`` is (n_lrs, n_seeds), NaN where an LR lacks that seed, +inf where it diverged.
    Seeds are resampled jointly across LRs (the runs of one seed share the initial weights and
    the mini-batch order, so their LRs are compared on common random numbers).
    """
    n_lrs, n_seeds = scores.shape
    if n_lrs == 0 or n_seeds == 0:
        return np.zeros(n_lrs)
    rng = np.random.default_rng(RNG_SEED)
    wins = np.zeros(n_lrs)
    for _ in range(n_boot):
        chosen = rng.integers(0, n_seeds, n_seeds)
        sample = scores[:, chosen]
        present = ~np.isnan(sample)
        count = present.sum(axis=1)
        with np.errstate(invalid="ignore"):
            total = np.where(present, sample, 0.0).sum(axis=1)
        means = np.where(count > 0, total / np.maximum(count, 1), np.inf)
        means = np.where(np.isnan(means), np.inf, means)
        if np.isfinite(means).any():
            wins[int(np.argmin(means))] += 1
    return wins / n_boot
