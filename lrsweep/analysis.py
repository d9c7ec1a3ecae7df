"""What the results say: objectives, aggregation over seeds, the best LR and its bracket.

Pure functions over rows and histories; nothing here trains, draws or prints. Plots and the
terminal render what these functions return.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from lrsweep import curve as ucurve
from lrsweep.methods import METHODS
from lrsweep.records import EpochLog, RunStatus, is_maximised, score


class LRPoint(NamedTuple):
    """One LR's results aggregated over seeds."""

    lr: float
    n_runs: int
    n_ok: int
    n_diverged: int
    n_failed: int
    mean: float  # mean objective over the OK seeds (NaN if none)
    std: float  # spread over the OK seeds (0 for one seed)
    values: tuple[float, ...]  # each OK seed's objective
    score: float  # what ranks LRs: +inf unless every finished seed is OK
    n_pruned: int = 0  # censored: stopped at a rung, clearly worse than the best there
    so_far: float = math.nan  # mean objective over the OK and pruned seeds (pruned: so far)


_FINISHED = (RunStatus.OK.value, RunStatus.PRUNED.value)
_UNFINISHED = (RunStatus.FAILED.value, RunStatus.TIMEOUT.value)  # no objective: no evidence
ALWAYS_COUNTED = ("ok", "diverged", "failed", "pruned")  # in every summary; others when seen


def aggregate(rows: Iterable[Mapping[str, Any]], objective: str) -> list[LRPoint]:
    """Group rows by LR (sorted) and summarise each over its seeds."""
    by_lr: dict[float, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_lr.setdefault(float(row["lr"]), []).append(row)
    points = []
    for lr in sorted(by_lr):
        runs = by_lr[lr]
        ok = [float(r["objective"]) for r in runs if r["status"] == RunStatus.OK.value]
        ok = [v for v in ok if math.isfinite(v)]
        n_div = sum(r["status"] == RunStatus.DIVERGED.value for r in runs)
        n_fail = sum(r["status"] in _UNFINISHED for r in runs)
        n_pruned = sum(r["status"] == RunStatus.PRUNED.value for r in runs)
        mean = float(np.mean(ok)) if ok else math.nan
        std = float(np.std(ok, ddof=1)) if len(ok) > 1 else 0.0
        usable = ok and n_div == 0 and n_pruned == 0  # a pruned seed: worse than the cut
        ranked = score(mean, objective) if usable else math.inf
        kept = [float(r["objective"]) for r in runs if r["status"] in _FINISHED]
        kept = [v for v in kept if math.isfinite(v)]
        so_far = float(np.mean(kept)) if kept and n_div == 0 else math.nan
        points.append(
            LRPoint(
                lr, len(runs), len(ok), n_div, n_fail, mean, std, tuple(ok), ranked, n_pruned,
                so_far,
            )
        )  # fmt: skip
    return points


class Best(NamedTuple):
    """The best LR of a curve and its bracket between grid neighbours."""

    at: int  # its position in the points
    lr: float
    mean: float
    std: float
    low: float  # the grid neighbour below (the best LR itself at the low edge)
    high: float  # the grid neighbour above (the best LR itself at the high edge)
    edge: str | None  # "low" or "high" when the best LR sits on the grid's edge


def best_lr(points: Sequence[LRPoint]) -> Best | None:
    """The LR with the lowest score, bracketed by its neighbours; None if no LR is usable."""
    scores = [p.score for p in points]
    if not points or not any(math.isfinite(s) for s in scores):
        return None
    i = int(np.argmin(scores))
    lrs = [p.lr for p in points]
    edge = "low" if i == 0 else "high" if i == len(points) - 1 else None
    low = lrs[i - 1] if i > 0 else lrs[i]
    high = lrs[i + 1] if i < len(points) - 1 else lrs[i]
    return Best(i, lrs[i], points[i].mean, points[i].std, low, high, edge)


COLLAPSED = 0.95  # an LR's runs end, on average, within 5 % of the constant prediction's loss


def largest_stable_lr(
    points: Sequence[LRPoint],
    rows: Sequence[Mapping[str, Any]] = (),
    constant_loss: float = math.nan,
) -> float | None:
    """The largest LR below which no seed of any LR diverged and, past the best LR, no LR
    collapsed: its seeds' mean final *training* loss within 5 % of ``constant_loss`` (the best
    constant prediction's training loss, `Dataset.constant_loss`) or above it. Runs that
    collapse to predicting the class frequencies have not diverged, but they cannot even fit
    the training data; a run that overfits (a validation loss above the constant's, a low
    training loss) is not collapsed.
    """
    best = best_lr(points)
    collapsed: set[float] = set()
    if math.isfinite(constant_loss) and best is not None:
        finals: dict[float, list[float]] = {}
        for r in rows:
            if r["status"] == RunStatus.OK.value:
                finals.setdefault(float(r["lr"]), []).append(float(r["final_train_loss"]))
        collapsed = {
            lr for lr, v in finals.items()
            if lr > best.lr and not float(np.mean(v)) < COLLAPSED * constant_loss
        }  # fmt: skip
    stable = None
    for p in points:
        if p.n_diverged or p.lr in collapsed:
            break
        if p.n_ok:
            stable = p.lr
    return stable


def status_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many runs ended in each status."""
    counts = dict.fromkeys(ALWAYS_COUNTED, 0)
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def interpolated_optimum(points: Sequence[LRPoint], best: Best) -> float | None:
    """The vertex of a parabola in log10(LR) through the best LR and its two neighbours.

    None at a grid edge, where a neighbour did not finish, or where the parabola opens down;
    otherwise clipped to the bracket.
    """
    i = best.at
    if best.edge is not None or i == 0 or i >= len(points) - 1:
        return None
    trio = points[i - 1 : i + 2]
    if not all(math.isfinite(p.score) for p in trio):
        return None
    x = np.log10([p.lr for p in trio])
    y = np.array([p.score for p in trio])
    a, b, _ = np.polyfit(x, y, 2)
    if a <= 0:
        return None
    vertex = float(np.clip(-b / (2 * a), x[0], x[2]))
    return float(10**vertex)


def good_band(points: Sequence[LRPoint], best: Best, tolerance: float) -> tuple[float, float]:
    """The contiguous LR range around the best whose mean objective is within ``tolerance``.

    "Within" is relative to the best's magnitude: score <= best + tolerance x |best|.
    """
    limit = best.mean if math.isfinite(best.mean) else 0.0
    threshold = points[best.at].score + tolerance * abs(limit)
    lo = hi = best.at
    while lo > 0 and points[lo - 1].score <= threshold:
        lo -= 1
    while hi < len(points) - 1 and points[hi + 1].score <= threshold:
        hi += 1
    return points[lo].lr, points[hi].lr


def sensitivity_score(points: Sequence[LRPoint], initial: float, objective: str) -> float | None:
    """How much the LR matters, in [0, 1]: the mean over the grid of how much worse than the
    best each LR does, as a fraction of (initial objective - best); capped at the initial
    objective, which is also what a diverged LR counts as; an LR with pruned seeds counts as
    its objective so far. 0: any LR on the grid is as good as the best; 1: only the best LR
    learns anything."""
    best = best_lr(points)
    cap = score(initial, objective)
    if best is None or not math.isfinite(cap):
        return None
    span = cap - points[best.at].score
    if span <= 0:
        return None
    values = [score(p.so_far, objective) if p.n_pruned else p.score for p in points]
    worse = [min(max(v - points[best.at].score, 0.0), span) for v in values]
    return float(np.mean(worse) / span)


def observations(rows: Iterable[Mapping[str, Any]], objective: str) -> list[ucurve.Observation]:
    """Every finished run as a point for the U-curve fit: its score, +inf if it diverged; a
    pruned run at its objective so far (where it was cut: left out, its LR would keep only
    the seeds that survived the cut, the better ones, and look better than it is)."""
    out = []
    for r in rows:
        if r["status"] == RunStatus.DIVERGED.value:
            out.append(ucurve.Observation(float(r["lr"]), math.inf, int(r["seed"])))
        elif r["status"] in _FINISHED and math.isfinite(float(r["objective"])):
            value = score(float(r["objective"]), objective)
            out.append(ucurve.Observation(float(r["lr"]), value, int(r["seed"])))
    return out


def fit_rows(rows: Sequence[Mapping[str, Any]], objective: str) -> ucurve.CurveFit | None:
    """The U-curve fitted to one curve's ``rows`` (see `lrsweep.curve`); None when too few
    runs finished. When some ran at the full budget, those are the curve; partial runs (a
    budget's rungs, a cheaper round 0) at LRs no full run reached enter as `extrapolated`."""
    full, partial = split_budgets(rows)
    return ucurve.fit_curve(observations(full, objective) + extrapolated(partial, full, objective))


def split_budgets(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(the full-budget rows, the others); all rows are "full" when none ran at full budget."""
    full = [r for r in rows if r.get("budget", "full") == "full"]
    if not full:
        return list(rows), []
    return full, [r for r in rows if r.get("budget", "full") != "full"]


def extrapolated(
    partial: Sequence[Mapping[str, Any]],
    full: Sequence[Mapping[str, Any]],
    objective: str,
) -> list[ucurve.Observation]:
    """Partial runs as evidence at the LRs they alone reached, not as missing points.

    A run that diverged within fewer epochs is a diverged run. A finished one is carried to
    the full budget by learning-curve extrapolation from its pairs: the runs trained both at
    its budget and at the full one (same LR, same seed: a budget's survivors) give the
    change from one to the other, on the fit's scale, as a straight line in log10 LR (a
    mean with two pairs); the run's value plus the line's prediction enters the fit with the
    prediction's variance added to its noise (wider the farther it extrapolates). Without two
    pairs a partial run is left out: nothing says what it would have become.
    """
    full_lrs = {float(r["lr"]) for r in full}
    ok = (RunStatus.OK.value, RunStatus.PRUNED.value)

    def value(r: Mapping[str, Any]) -> float:
        return score(float(r["objective"]), objective) if r["status"] in ok else math.inf

    finals = {(float(r["lr"]), int(r["seed"])): value(r) for r in full}
    deepest: dict[tuple[float, int], Mapping[str, Any]] = {}
    for r in partial:
        key = (float(r["lr"]), int(r["seed"]))
        if key[0] in full_lrs or r["status"] not in (*ok, RunStatus.DIVERGED.value):
            continue
        held = deepest.get(key)
        if held is None or (
            held["status"] != RunStatus.DIVERGED.value
            and (
                r["status"] == RunStatus.DIVERGED.value
                or int(r["epochs_done"]) > int(held["epochs_done"])
            )
        ):
            deepest[key] = r
    values = [v for v in finals.values() if math.isfinite(v)] + [
        value(r) for r in partial if math.isfinite(value(r))
    ]
    log = bool(values) and all(v > 0 for v in values)  # the fit's own rule for its scale

    def g(v: float) -> float:
        return math.log(v) if log else v

    out = []
    for (lr, seed), r in sorted(deepest.items()):
        if r["status"] == RunStatus.DIVERGED.value:
            out.append(ucurve.Observation(lr, math.inf, seed))
            continue
        if not math.isfinite(value(r)):
            continue
        pairs = [
            (math.log10(float(p["lr"])), g(finals[key]) - g(value(p)))
            for p in partial
            if int(p["epochs_done"]) == int(r["epochs_done"])
            and (key := (float(p["lr"]), int(p["seed"]))) in finals
            and math.isfinite(finals[key])
            and math.isfinite(value(p))
        ]
        change = learning_curve_change(pairs, math.log10(lr))
        if change is None:
            continue
        shift, variance = change
        z = g(value(r)) + shift
        out.append(ucurve.Observation(lr, math.exp(z) if log else z, seed, variance))
    return out


def learning_curve_change(
    pairs: Sequence[tuple[float, float]], x: float
) -> tuple[float, float] | None:
    """The change from a partial to a full run predicted at ``x`` (log10 LR) from ``pairs``
    of (x, change), with the prediction's variance; None with fewer than 2 pairs.

    Between paired LRs the change is interpolated (piecewise linear in log10 LR, the mean
    change at an LR with several pairs); beyond them it is the nearest end's, never a line
    carried on (near the cliff a run improves less than a line through the basin says). The
    variance is the pairs' spread around the interpolation, as a mean's, ``(1 + 1/n)``,
    growing with the squared distance past the ends in units of ``EXTRAPOLATION_DECADES``.
    """
    if len(pairs) < 2:
        return None
    by_x: dict[float, list[float]] = {}
    for px, d in pairs:
        by_x.setdefault(px, []).append(d)
    xs = np.array(sorted(by_x))
    means = np.array([float(np.mean(by_x[v])) for v in xs])
    n = len(pairs)
    resid = [d - float(np.interp(px, xs, means)) for px, d in pairs]
    within = sum(r * r for r in resid) / max(n - len(xs), 1)
    spread = float(np.var(means, ddof=1)) if len(xs) > 1 else 0.0
    base = (within if n > len(xs) else 0.0) + spread
    past = max(float(xs[0]) - x, x - float(xs[-1]), 0.0)
    variance = base * (1 + 1 / n) * (1 + (past / EXTRAPOLATION_DECADES) ** 2)
    return float(np.interp(x, xs, means)), variance


EXTRAPOLATION_DECADES = 0.5  # the U-curve's longest length scale: past it, pairs say less


def natural(value: float, objective: str) -> float:
    """A score back in the objective's own units (a maximised metric was negated)."""
    return -value if is_maximised(objective) else value


def seed_matrix(points: Sequence[LRPoint], rows: Sequence[Mapping[str, Any]], objective: str
                ) -> np.ndarray:  # fmt: skip
    """Scores as (LR, seed): NaN where an LR lacks the seed, +inf where that seed diverged."""
    seeds = sorted({int(r["seed"]) for r in rows})
    at = {p.lr: i for i, p in enumerate(points)}
    m = np.full((len(points), len(seeds)), np.nan)
    col = {s: j for j, s in enumerate(seeds)}
    for r in rows:
        i, j = at.get(float(r["lr"])), col[int(r["seed"])]
        if i is None:
            continue
        if r["status"] == RunStatus.DIVERGED.value:
            m[i, j] = math.inf
        elif r["status"] == RunStatus.OK.value and math.isfinite(float(r["objective"])):
            m[i, j] = score(float(r["objective"]), objective)
    return m


def answer(
    rows: Sequence[Mapping[str, Any]],
    objective: str,
    tolerance: float,
    initial: float = math.nan,
    rule: str = "ucb",
    lr_cap: float | None = None,
) -> dict[str, Any] | None:
    """The recommended LR from the fitted U-curve, with its uncertainty (strict-JSON data).

    ``lr``: the rule's minimiser (`lrsweep.curve.pick`); ``interval``: where the optimum lies
    (10-90 % of the argmin over posterior draws); ``expected_objective``: the fitted objective
    at ``lr`` and one sd either side (not the winner's mean, which is optimistic); ``good_band``:
    the contiguous LRs whose fitted objective is within ``tolerance`` of the pick's;
    ``sensitivity``: how fussy the curve is, in [0, 1] (`lrsweep.curve.sensitivity`);
    ``held_at``: ``lr_cap`` when the pick would have been above it (the largest stable LR:
    past it runs collapsed), else None.
    """
    fit = fit_rows(rows, objective)
    if fit is None:
        return None
    chosen = ucurve.pick(fit, tolerance, rule, lr_cap)
    free = ucurve.pick(fit, tolerance, rule) if lr_cap is not None else chosen
    cap = score(initial, objective)
    low, high = natural(chosen.expected_low, objective), natural(chosen.expected_high, objective)
    return {
        "lr": chosen.lr,
        "rule": chosen.rule,
        "interval": list(chosen.interval),
        "expected_objective": natural(chosen.expected, objective),
        "expected_objective_range": [min(low, high), max(low, high)],
        "good_band": list(chosen.band),
        "good_band_decades": chosen.band_decades,
        "mean_lr": chosen.mean_lr,
        "ucb_lr": chosen.ucb_lr,
        "robust_lr": chosen.robust_lr,
        "sensitivity": ucurve.sensitivity(fit, chosen.band, cap),
        "interval_edge": interval_edge(fit, chosen),
        "held_at": lr_cap if free.lr > chosen.lr * (1 + 1e-9) else None,
        "length_scale_decades": fit.length_scale,
        "noise_sd": fit.noise_sd,
        "log_scale": fit.log_scale,
    }


def interval_edge(fit: ucurve.CurveFit, chosen: ucurve.Pick) -> str | None:
    """ "low" / "high" when the optimum's interval reaches the smallest / largest LR trained
    (beyond it nothing was tried, so the optimum may lie there too), else None."""
    lo, hi = chosen.interval
    if lo <= 10 ** float(fit.x[0]) * (1 + 1e-9):
        return "low"
    if hi >= 10 ** float(fit.x[-1]) * (1 - 1e-9):
        return "high"
    return None


def curve_summary(
    rows: Sequence[Mapping[str, Any]],
    objective: str,
    tolerance: float,
    round0_rows: Sequence[Mapping[str, Any]] | None = None,
    constant_loss: float = math.nan,
) -> dict[str, Any]:
    """The answer for one curve (one combination) from all its ``rows``: the table and the
    best from the full-budget ones (`summary_rows`), the fit from all (`fit_rows`);
    ``constant_loss`` is the constant prediction's training loss, when known (see
    `largest_stable_lr`)."""
    every, rows = rows, summary_rows(rows)
    points = aggregate(rows, objective)
    best = best_lr(points)
    initial = [
        float(r["initial_objective"]) for r in rows
        if math.isfinite(float(r.get("initial_objective", math.nan)))
    ]  # fmt: skip
    initial_value = float(np.median(initial)) if initial else math.nan
    sens_points = aggregate(round0_rows, objective) if round0_rows else points
    stable = largest_stable_lr(points, rows, constant_loss)
    fitted = answer(every, objective, tolerance, initial_value, lr_cap=stable)
    p_best = ucurve.probability_best(seed_matrix(points, rows, objective))
    sensitivity = sensitivity_score(sens_points, initial_value, objective)
    if fitted is not None and fitted["sensitivity"] is not None:
        sensitivity = fitted["sensitivity"]
    out: dict[str, Any] = {
        "best": None,
        "interpolated_lr": None,
        "good_band": None,
        "good_band_decades": None,
        "largest_stable_lr": stable,
        "sensitivity": sensitivity,
        "initial_objective": initial_value,
        "status_counts": status_counts(rows),
        "labels": label_counts(rows),
        "table": [
            {"lr": p.lr, "n_runs": p.n_runs, "n_ok": p.n_ok, "n_diverged": p.n_diverged,
             "n_failed": p.n_failed, "n_pruned": p.n_pruned, "mean": p.mean, "std": p.std,
             "p_best": float(pb)}
            for p, pb in zip(points, p_best, strict=True)
        ],
        "answer": fitted,
        "recommended_lr": None if fitted is None else fitted["lr"],
    }  # fmt: skip
    if best is not None:
        lo, hi = good_band(points, best, tolerance)
        out["best"] = {
            "lr": best.lr, "objective_mean": best.mean, "objective_std": best.std,
            "bracket": [best.low, best.high], "edge": best.edge,
        }  # fmt: skip
        out["interpolated_lr"] = interpolated_optimum(points, best)
        out["good_band"] = [lo, hi]
        out["good_band_decades"] = float(math.log10(hi / lo))
    if fitted is not None:
        out["good_band"] = fitted["good_band"]
        out["good_band_decades"] = fitted["good_band_decades"]
    return out


def label_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many runs carry each label."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row["label"])] = counts.get(str(row["label"]), 0) + 1
    return counts


def summary_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows an answer is read from: full-budget runs when there are any."""
    full = [r for r in rows if r["budget"] == "full"]
    return full or list(rows)


def scaling_slope(xs: Sequence[float], lrs: Sequence[float]) -> float | None:
    """Least-squares slope of log(best LR) against log(x); None with fewer than 2 points."""
    fit = scaling_fit(xs, lrs)
    return None if fit is None else fit.slope


# Student's t, two-sided 95%, by degrees of freedom (1..10); 1.96 beyond 30
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


def t_975(dof: int) -> float:
    """The two-sided 95% quantile of Student's t with ``dof`` degrees of freedom."""
    if dof <= len(T_975):
        return T_975[dof - 1]
    return 2.228 + (1.96 - 2.228) * min(1.0, (dof - 10) / 20)  # 2.086 at 20, 1.96 past 30


class ScalingFit(NamedTuple):
    """log(best LR) = intercept + slope x log(x), least squares, with the slope's 95% CI."""

    slope: float
    intercept: float
    low: float | None  # the slope's 95% interval (Student's t); None with 2 points
    high: float | None
    n: int  # points fitted


def scaling_fit(xs: Sequence[float], lrs: Sequence[float]) -> ScalingFit | None:
    """Fit best LR against an axis on log-log axes; None with fewer than 2 distinct x.

    The interval is the slope's standard error from the residuals times Student's t with
    ``n - 2`` degrees of freedom: wide with few points (4 points: t = 4.3), absent with 2.
    """
    if len(xs) < 2 or len(set(xs)) < 2:
        return None
    x, y = np.log(np.asarray(xs, dtype=float)), np.log(np.asarray(lrs, dtype=float))
    slope, intercept = np.polyfit(x, y, 1)
    n = len(x)
    if n < 3:
        return ScalingFit(float(slope), float(intercept), None, None, n)
    residuals = y - (intercept + slope * x)
    se = math.sqrt(float(residuals @ residuals) / (n - 2) / float(((x - x.mean()) ** 2).sum()))
    half = t_975(n - 2) * se
    return ScalingFit(float(slope), float(intercept), float(slope - half), float(slope + half), n)


def axis_number(key: str, value: Any) -> float:
    """A numeric axis value: widths use the widest hidden layer."""
    if key == "model.hidden":
        return float(max(value)) if value else 0.0
    return float(value)


def expected_of(curve: Mapping[str, Any]) -> tuple[float, float]:
    """A curve's expected objective at its answer and its sd (the winner's mean and its
    standard error without a fit)."""
    fitted = curve.get("answer")
    if fitted is not None:
        low, high = fitted["expected_objective_range"]
        return float(fitted["expected_objective"]), (high - low) / 2
    best = curve["best"]
    n = next((row["n_ok"] for row in curve["table"] if row["lr"] == best["lr"]), 1)
    return float(best["objective_mean"]), float(best["objective_std"]) / math.sqrt(max(n, 1))


def indistinguishable(
    overall: Mapping[str, Any], curves: Sequence[Mapping[str, Any]], sign: float
) -> list[str]:
    """Labels of the other curves whose expected objective is within noise of ``overall``'s:
    the difference is within the two uncertainties combined (one sd of the difference)."""
    e0, s0 = expected_of(overall)
    out = []
    for c in curves:
        if c is overall:
            continue
        e, s = expected_of(c)
        if sign * (e - e0) <= math.hypot(s0, s):
            out.append(str(c["label"]))
    return out


def summarize(
    rows: Sequence[Mapping[str, Any]],
    objective: str,
    *,
    combos: Sequence[tuple[tuple[str, Any], ...]] = ((),),
    labels: Sequence[str] = ("all",),
    tolerance: float = 0.05,
    constant_loss: float = math.nan,
) -> dict[str, Any]:
    """The answer as data: one summary per combination, the overall best, scaling slopes."""
    per_combo = []
    for combo, label in zip(combos, labels, strict=True):
        mine = [r for r in rows if r.get("combo", "all") == label]
        round0 = [r for r in mine if int(r["round"]) == 0]
        curve = curve_summary(mine, objective, tolerance, round0, constant_loss)
        per_combo.append({"combo": dict(combo), "label": label, **curve})
    usable = [c for c in per_combo if c["best"] is not None]
    sign = -1.0 if is_maximised(objective) else 1.0
    overall = min(usable, key=lambda c: sign * expected_of(c)[0], default=None)
    tied = [] if overall is None else indistinguishable(overall, usable, sign)
    summary: dict[str, Any] = {
        "objective": objective,
        "direction": "max" if is_maximised(objective) else "min",
        "n_runs": len(rows),
        "best_combo": None if overall is None else overall["label"],
        # curves whose expected objective is within noise of the best one's
        "indistinguishable_from_best": tied,
        # the best curve's answer at the top level; counts over every curve
        **{k: v for k, v in (overall or per_combo[0]).items() if k not in ("combo", "label")},
        "status_counts": status_counts(rows),
        "combos": per_combo if len(per_combo) > 1 else [],
        "scaling": {},
    }
    if any("optimizer.name" in dict(combo) for combo in combos):
        summary["methods"] = method_verdicts(per_combo, objective)
    for key in ("train.batch_size", "model.hidden"):
        if len(combos[0]) == 1 and combos[0][0][0] == key:  # the only axis
            pts = [(axis_number(key, c["combo"][key]), c["best"]["lr"]) for c in usable]
            fit = scaling_fit([p[0] for p in pts], [p[1] for p in pts])
            summary["scaling"][key] = {
                "slope": None if fit is None else fit.slope,
                "slope_low": None if fit is None else fit.low,  # its 95% interval
                "slope_high": None if fit is None else fit.high,
                "points": pts,
            }
    return summary


def at_lr(table: Sequence[Mapping[str, Any]], lr: float) -> Mapping[str, Any] | None:
    """The row of a curve's table whose LR is nearest ``lr`` in log scale (None if empty)."""
    if not table:
        return None
    return min(table, key=lambda row: abs(math.log10(float(row["lr"]) / lr)))


def method_verdicts(
    per_combo: Sequence[Mapping[str, Any]], objective: str
) -> list[dict[str, Any]]:
    """One verdict per optimizer curve: do I need to tune its LR?

    For each combination that names an ``optimizer.name``: its tuned best, its objective at
    the reference implementation's default LR (`lrsweep.methods.Method.default_lr`; the grid
    LR nearest to it), how far that is from the tuned best of all curves (in percent of its
    magnitude; a diverged default LR is ``None``), and the width of its good band in decades.
    An optimizer without an LR (``needs_lr`` False) has a flat curve: every grid LR is its
    default.
    """
    usable = [c for c in per_combo if c.get("best") is not None]
    sign = -1.0 if is_maximised(objective) else 1.0
    overall = min((sign * c["best"]["objective_mean"] for c in usable), default=math.nan)
    overall *= sign
    out = []
    for c in per_combo:
        name = c.get("combo", {}).get("optimizer.name")
        if name not in METHODS:
            continue
        cls = METHODS[name]
        row = at_lr(c["table"], cls.default_lr)
        value = math.nan if row is None or row["n_diverged"] else float(row["mean"])
        gap = sign * (value - overall) / abs(overall) * 100 if overall else math.nan
        best = c.get("best")
        verdict = {
            "label": c["label"],
            "optimizer": name,
            "needs_lr": cls.needs_lr,
            "best_lr": None if best is None else best["lr"],
            "best_objective": None if best is None else best["objective_mean"],
            "default_lr": cls.default_lr,
            "default_grid_lr": None if row is None else float(row["lr"]),
            "default_objective": value if math.isfinite(value) else None,
            "default_gap_percent": gap if math.isfinite(gap) else None,
            "good_band_decades": c.get("good_band_decades"),
        }
        verdict["verdict"] = verdict_line(verdict, objective)
        out.append(verdict)
    return out


def verdict_line(v: Mapping[str, Any], objective: str) -> str:
    """The one-line verdict of `method_verdicts` (stored in summary.json as text)."""
    if v["best_objective"] is None:
        return f"{v['optimizer']}: no LR on the grid finished without diverging"
    tuned = (
        f"{v['optimizer']}: tuned best {objective} {v['best_objective']:.4g}"
        f" at LR {v['best_lr']:.3g}"
    )
    if not v["needs_lr"]:
        default = "it takes no LR (a flat curve)"
    elif v["default_objective"] is None:
        default = f"at its default LR {v['default_lr']:g} it diverged"
    else:
        default = (
            f"at its default LR {v['default_lr']:g} (grid {v['default_grid_lr']:.3g})"
            f" {v['default_objective']:.4g}, within {v['default_gap_percent']:.1f}% of the tuned"
            " best of all methods"
        )
    return f"{tuned}; {default}; good band {v['good_band_decades']:.2f} decades wide"


class UCurve(NamedTuple):
    """What a U-curve plot draws for one curve (one combination)."""

    label: str
    lrs: np.ndarray  # LRs where every finished seed is OK: the mean line
    mean: np.ndarray
    low: np.ndarray  # mean - std
    high: np.ndarray  # mean + std
    seed_lrs: np.ndarray  # one point per OK run
    seed_values: np.ndarray
    seed_rounds: np.ndarray  # the round each OK run was planned in (0 = coarse grid)
    diverged_lrs: np.ndarray  # one point per diverged run
    pruned_lrs: np.ndarray  # one point per pruned run
    best_lr: float | None
    best_value: float | None
    interpolated_lr: float | None
    band: tuple[float, float] | None
    objective: str
    # the objective's range around the optimum (the best LR's neighbours and LRs within
    # FOCUS_DECADES of it, every seed and the ±std band): where the choice is made, drawn
    # large; None without a best
    focus: tuple[float, float] | None = None
    focus_lrs: tuple[float, float] | None = None  # the LRs those values come from, padded

    fit_lrs: np.ndarray = np.zeros(0)  # the U-curve fit (`lrsweep.curve`), in the objective's
    fit_mean: np.ndarray = np.zeros(0)  # units: its mean and a +-1 sd band of the curve
    fit_low: np.ndarray = np.zeros(0)
    fit_high: np.ndarray = np.zeros(0)
    recommended_lr: float | None = None  # the fit's answer (`answer`)
    interval: tuple[float, float] | None = None  # where the optimum lies


FOCUS_DECADES = 0.5  # the U-curve's zoom: LRs this many decades either side of the best
FOCUS_PAD = 0.08  # and this fraction of the range above and below
FOCUS_RISE = 0.5  # but no further from the best mean than this fraction of it
FOCUS_STDS = 4.0  # or this many of its standard deviations over seeds, if more


def focus_lrs(points: Sequence[LRPoint], best: Best | None) -> tuple[float, float] | None:
    """The LR range `focus_range` reads, widened by ``FOCUS_PAD`` of a decade each side."""
    near = _near_best(points, best)
    if not near:
        return None
    pad = 10**FOCUS_PAD
    return near[0].lr / pad, near[-1].lr * pad


def _near_best(points: Sequence[LRPoint], best: Best | None) -> list[LRPoint]:
    if best is None:
        return []
    return [
        p for i, p in enumerate(points)
        if p.n_ok
        and (abs(i - best.at) <= 1 or abs(math.log10(p.lr / best.lr)) <= FOCUS_DECADES + 1e-9)
    ]  # fmt: skip


def focus_range(points: Sequence[LRPoint], best: Best | None) -> tuple[float, float] | None:
    """The objective's range over the best LR, its grid neighbours and every LR within
    ``FOCUS_DECADES`` of it (each OK seed and mean ± std), no further from the best mean than
    ``FOCUS_RISE`` of it or ``FOCUS_STDS`` standard deviations, padded by ``FOCUS_PAD``; None
    without a best LR."""
    if best is None:
        return None
    near = _near_best(points, best)
    values = [v for p in near for v in (*p.values, p.mean - p.std, p.mean + p.std)]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return None
    lo, hi = min(values), max(values)
    if math.isfinite(best.mean):  # a steep side would stretch the zoom: cap how far it goes
        rise = max(FOCUS_STDS * best.std, FOCUS_RISE * abs(best.mean))
        lo, hi = max(lo, best.mean - rise), min(hi, best.mean + rise)
    pad = FOCUS_PAD * max(hi - lo, 0.05 * abs(best.mean), 1e-12)
    return lo - pad, hi + pad


def u_curve(
    rows: Sequence[Mapping[str, Any]],
    objective: str,
    label: str = "all",
    tolerance: float = 0.05,
) -> UCurve:
    """The U-curve's data from one curve's rows (the full-budget ones when there are any)."""
    every, rows = rows, summary_rows(rows)
    points = aggregate(rows, objective)
    clean = [p for p in points if p.n_ok and not p.n_diverged and not p.n_pruned]
    best = best_lr(points)
    ok_rows = [
        r for r in rows
        if r["status"] == RunStatus.OK.value and math.isfinite(float(r["objective"]))
    ]  # fmt: skip
    diverged = [float(r["lr"]) for r in rows if r["status"] == RunStatus.DIVERGED.value]
    pruned = [float(r["lr"]) for r in rows if r["status"] == RunStatus.PRUNED.value]
    fit = fit_rows(every, objective)
    fitted = answer(every, objective, tolerance)
    sign = -1.0 if is_maximised(objective) else 1.0
    fit_arrays = (
        (np.zeros(0),) * 4 if fit is None
        else (10**fit.x, sign * fit.mean, sign * (fit.low if sign > 0 else fit.high),
              sign * (fit.high if sign > 0 else fit.low))
    )  # fmt: skip
    return UCurve(
        label=label,
        lrs=np.array([p.lr for p in clean]),
        mean=np.array([p.mean for p in clean]),
        low=np.array([p.mean - p.std for p in clean]),
        high=np.array([p.mean + p.std for p in clean]),
        seed_lrs=np.array([float(r["lr"]) for r in ok_rows]),
        seed_values=np.array([float(r["objective"]) for r in ok_rows]),
        seed_rounds=np.array([int(r["round"]) for r in ok_rows], dtype=int),
        diverged_lrs=np.array(sorted(diverged)),
        pruned_lrs=np.array(sorted(pruned)),
        best_lr=None if best is None else best.lr,
        best_value=None if best is None else best.mean,
        interpolated_lr=None if best is None else interpolated_optimum(points, best),
        band=(
            None if best is None
            else tuple(fitted["good_band"]) if fitted is not None
            else good_band(points, best, tolerance)
        ),
        objective=objective,
        focus=focus_range(points, best),
        focus_lrs=focus_lrs(points, best),
        fit_lrs=fit_arrays[0],
        fit_mean=fit_arrays[1],
        fit_low=fit_arrays[2],
        fit_high=fit_arrays[3],
        recommended_lr=None if fitted is None else fitted["lr"],
        interval=None if fitted is None else tuple(fitted["interval"]),
    )  # fmt: skip


class Heatmap(NamedTuple):
    """Mean objective over a grid of LR (columns) x one numeric axis (rows)."""

    axis: str
    lrs: np.ndarray
    values: np.ndarray  # the axis values, one per row
    grid: np.ndarray  # (len(values), len(lrs)); NaN where a seed diverged or none finished OK
    objective: str
    best_lrs: np.ndarray | None = None  # each row's recommended LR (refine rounds included)
    fit: ScalingFit | None = None  # best LR against the axis value, log-log


def heatmap(
    rows: Sequence[Mapping[str, Any]],
    axis: str,
    combos: Sequence[tuple[tuple[str, Any], ...]],
    labels: Sequence[str],
    objective: str,
) -> Heatmap:
    """The round-0 objective of every (axis value, LR) pair of a one-axis sweep."""
    round0 = [r for r in rows if int(r["round"]) == 0]
    lrs = np.array(sorted({float(r["lr"]) for r in round0}))
    values = np.array([axis_number(axis, dict(c)[axis]) for c in combos])
    grid = np.full((len(combos), len(lrs)), np.nan)
    for i, label in enumerate(labels):
        for p in aggregate([r for r in round0 if r.get("combo") == label], objective):
            if p.n_ok and not p.n_diverged:
                grid[i, int(np.searchsorted(lrs, p.lr))] = p.mean
    best = np.full(len(combos), np.nan)
    for i, label in enumerate(labels):
        found = best_lr(aggregate(summary_rows([r for r in rows if r.get("combo") == label]),
                                  objective))  # fmt: skip
        if found is not None:
            best[i] = found.lr
    ok = np.isfinite(best)
    fit = scaling_fit(values[ok].tolist(), best[ok].tolist())
    order = np.argsort(values)
    return Heatmap(axis, lrs, values[order], grid[order], objective, best[order], fit)


class EpochCurve(NamedTuple):
    """Loss against epoch at one LR, over its seeds: what the loss-against-epoch plot draws."""

    lr: float
    round: int  # the round the LR was first trained in (0 = coarse grid)
    epochs: np.ndarray
    train_mean: np.ndarray  # mean over the seeds with a finite loss at that epoch
    train_low: np.ndarray  # the seeds' min and max: the band
    train_high: np.ndarray
    val_mean: np.ndarray
    val_low: np.ndarray
    val_high: np.ndarray
    n_seeds: int
    diverged: bool  # some seed diverged (its history ends early)
    recommended: bool  # the curve's recommended LR
    pruned_at: tuple[int, ...] = ()  # the epoch each pruned seed stopped at (a rung)


class EpochPanel(NamedTuple):
    """The loss-against-epoch curves of one combination."""

    label: str
    curves: tuple[EpochCurve, ...]
    best_lr: float | None


def epoch_panel(
    rows: Sequence[Mapping[str, Any]],
    histories: Mapping[str, Sequence[EpochLog]],
    objective: str,
    label: str = "all",
) -> EpochPanel:
    """One combination's curves from its rows and their histories (by run id): the
    full-budget runs when there are any, failed runs left out."""
    fitted = answer(rows, objective, 0.05)
    rows = [r for r in summary_rows(rows) if r["status"] != RunStatus.FAILED.value]
    best = best_lr(aggregate(rows, objective))
    if fitted is not None and best is not None:  # the trained LR nearest the answer
        trained = sorted({float(r["lr"]) for r in rows if r["status"] == RunStatus.OK.value})
        near = min(trained, key=lambda lr: abs(math.log(lr / fitted["lr"])), default=best.lr)
        best = best._replace(lr=near)
    by_lr: dict[float, list[Mapping[str, Any]]] = {}
    for row in rows:
        if str(row["run_id"]) in histories:
            by_lr.setdefault(float(row["lr"]), []).append(row)
    curves = []
    for lr in sorted(by_lr):
        runs = by_lr[lr]
        logs = [histories[str(r["run_id"])] for r in runs]
        epochs = np.array([h.epoch for h in max(logs, key=len)])
        train = _over_seeds(logs, "train_loss", len(epochs))
        val = _over_seeds(logs, "val_loss", len(epochs))
        curves.append(
            EpochCurve(
                lr, min(int(r["round"]) for r in runs), epochs, *train, *val, len(runs),
                any(r["status"] == RunStatus.DIVERGED.value for r in runs),
                best is not None and lr == best.lr,
                tuple(
                    histories[str(r["run_id"])][-1].epoch for r in runs
                    if r["status"] == RunStatus.PRUNED.value and histories[str(r["run_id"])]
                ),
            )
        )  # fmt: skip
    return EpochPanel(label, tuple(curves), None if best is None else best.lr)


def _over_seeds(
    logs: Sequence[Sequence[EpochLog]], column: str, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min and max over seeds of ``column`` at each of ``n`` epochs (finite only)."""
    table = np.full((len(logs), n), np.nan)
    for i, log in enumerate(logs):
        values = np.array([getattr(h, column) for h in log], dtype=float)[:n]
        table[i, : len(values)] = np.where(np.isfinite(values), values, np.nan)
    counts = np.isfinite(table).sum(axis=0)
    filled = np.where(np.isfinite(table), table, 0.0)
    mean = np.where(counts > 0, filled.sum(axis=0) / np.maximum(counts, 1), np.nan)
    low = np.where(counts > 0, np.where(np.isfinite(table), table, np.inf).min(axis=0), np.nan)
    high = np.where(counts > 0, np.where(np.isfinite(table), table, -np.inf).max(axis=0), np.nan)
    return mean, low, high


class SuggestionMark(NamedTuple):
    """One distinct LR the range test suggests, and every rule that suggests it."""

    lr: float
    loss: float  # the seeds' combined smoothed loss there (geometric mean); NaN off the ramp
    names: tuple[str, ...]


def suggestion_marks(
    curves: Mapping[int, Mapping[str, np.ndarray]],
    suggestions: Mapping[str, float | None],
    rtol: float = 0.02,
) -> list[SuggestionMark]:
    """The range test's suggestions merged where they agree (within ``rtol``), by LR, each
    placed on the seeds' combined smoothed curve (one marker per distinct LR)."""
    merged: list[tuple[float, list[str]]] = []
    for name, lr in sorted(
        ((n, v) for n, v in suggestions.items() if v is not None), key=lambda kv: kv[1]
    ):
        if merged and abs(lr / merged[-1][0] - 1) <= rtol:
            merged[-1][1].append(name)
        else:
            merged.append((lr, [name]))
    marks = []
    for lr, names in merged:
        at = []
        for c in curves.values():
            x, y = np.log10(c["lr"]), c["smoothed_loss"]
            keep = np.isfinite(y) & (y > 0)
            if keep.sum() >= 2 and x[keep][0] <= math.log10(lr) <= x[keep][-1]:
                at.append(float(np.interp(math.log10(lr), x[keep], np.log(y[keep]))))
        loss = float(np.exp(np.mean(at))) if at else math.nan
        marks.append(SuggestionMark(lr, loss, tuple(names)))
    return marks
