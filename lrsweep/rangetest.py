"""Smith's LR range test: train briefly while the LR ramps up, and read suggestions off the loss.

The structure follows pytorch-lr-finder (A3): an exponential (or linear) LR ramp over
``num_iter`` mini-batches, the LR recorded *before* each step, the training loss smoothed with a
debiased exponential moving average, and a stop once the smoothed loss exceeds ``diverge_th``
times the best so far. Each seed trains a fresh seeded model, so nothing needs restoring.

The suggestions are separate pure functions of the recorded curve (`suggest`), so they can be
tested on hand-made curves and recomputed with other settings. They ignore the part of a curve
after a non-finite loss or after divergence, and a curve too short for a rule gives that rule
``lr=None`` and a note instead of raising.

Smith (2017), "Cyclical learning rates for training neural networks", §3.3; the ``valley``,
``slide`` and ``minimum`` rules are fastai's (``fastai.callback.schedule``).

The seeds train in lockstep, one member each, with their own initial weights and mini-batch
orders. Each seed's curve gets its own suggestions (their spread says how much the seed
matters), and the headline suggestions are the same rules read off the seeds' combined curve
(`combine`): averaging over seeds removes noise that no single seed's curve can.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrsweep.data import Dataset, batch_indices
from lrsweep.errors import SpecError
from lrsweep.members import Members, model_arrays, seed_starts
from lrsweep.model import Workspace, evaluate_layers, layer_sizes, train_step
from lrsweep.optimizers import OPTIMIZERS, make_optimizer
from lrsweep.plan import canonical_lr
from lrsweep.spec import Spec

__all__ = [
    "SUGGESTIONS",
    "RangeCurve",
    "RangeTestResult",
    "Spread",
    "Suggestion",
    "combine",
    "ramp",
    "run_range_test",
    "smooth",
    "suggest",
    "window_slopes",
]

SUGGESTIONS = ("recommended", "valley", "steep", "minimum_10", "slide", "max_lr", "base_lr")
MIN_POINTS = 3  # fewest points a window needs for any rule (np.gradient needs 2; valley 3)
STEEP_WINDOW = 0.5  # decades of LR over which `steep` fits each slope (~6 points by default)


@dataclass(frozen=True)
class Suggestion:
    """One rule's suggested LR.

    Attributes
    ----------
    name : str
        The rule (a key of `SUGGESTIONS`).
    lr : float or None
        The suggested LR; None when the curve cannot support the rule (see ``note``).
    index : int or None
        The curve point the rule picked (an index into the recorded arrays), if any.
    note : str
        How the value was found, or why there is none.
    """

    name: str
    lr: float | None
    index: int | None
    note: str


@dataclass(frozen=True)
class Spread:
    """A suggestion over seeds: the median (in log space), min and max of the seeds' LRs.

    ``n`` seeds gave a value; all three are None when none did.
    """

    median: float | None
    min: float | None
    max: float | None
    n: int


@dataclass(frozen=True, eq=False)
class RangeCurve:
    """One seed's range test: arrays of equal length, one entry per step taken or attempted.

    Attributes
    ----------
    seed : int
        The seed (initial weights and mini-batch order).
    step, lr, loss, smoothed, val_loss : ndarray
        The step number, the LR used at it (recorded before stepping), the mini-batch loss
        before the step, the debiased moving average, and the validation loss before the step
        (nan where not measured).
    stop : str
        ``"completed"`` (all ``num_iter`` steps), ``"diverged"`` (smoothed loss over
        ``diverge_th x`` best; that point is the last recorded) or ``"non_finite"``.
    suggestions : dict of str to Suggestion
        `suggest` applied to this curve.
    """

    seed: int
    step: np.ndarray
    lr: np.ndarray
    loss: np.ndarray
    smoothed: np.ndarray
    val_loss: np.ndarray
    stop: str
    suggestions: dict[str, Suggestion] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class RangeTestResult:
    """Every seed's curve, the spread of each suggestion over the seeds, and the suggestions
    read off the seeds' combined curve (`combine`): the headline values."""

    curves: list[RangeCurve]
    spread: dict[str, Spread]
    start_lr: float
    end_lr: float
    num_iter: int
    mode: str
    suggestions: dict[str, Suggestion] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Pure pieces: the ramp, the smoothing and the suggestion rules.


def ramp(start_lr: float, end_lr: float, num_iter: int, mode: str = "exp") -> np.ndarray:
    """The LRs of the range test, one per step (pytorch-lr-finder's ramps).

    ``exp``: ``start (end / start) ** (i / (num_iter - 1))``; ``linear``:
    ``start + i / (num_iter - 1) (end - start)``, for ``i = 0 .. num_iter - 1``: both ends
    are included.

    Raises
    ------
    SpecError
        For a non-positive start, an end not above the start, fewer than 2 steps or an unknown
        mode.
    """
    _check("mode", mode, mode in ("exp", "linear"), "'exp' or 'linear'")
    _check("start_lr", start_lr, math.isfinite(start_lr) and start_lr > 0, "> 0")
    _check("end_lr", end_lr, math.isfinite(end_lr) and end_lr > start_lr, "> start_lr")
    _check("num_iter", num_iter, isinstance(num_iter, int) and num_iter >= 2, "an integer >= 2")
    r = np.arange(num_iter) / (num_iter - 1)
    if mode == "exp":
        return start_lr * (end_lr / start_lr) ** r
    return start_lr + r * (end_lr - start_lr)


def smooth(losses: np.ndarray | Sequence[float], beta: float = 0.98) -> np.ndarray:
    """Debiased exponential moving average of the losses (fastai's ``SmoothenValue``).

    ``avg_i = beta avg_{i-1} + (1 - beta) loss_i`` with ``avg_{-1} = 0``, and
    ``smoothed_i = avg_i / (1 - beta ** (i + 1))``. The curve ends at the first nan or inf
    loss: that point and everything after it are nan (an average that has seen an inf is
    meaningless).

    Parameters
    ----------
    losses : array-like of shape (n,)
        The raw losses in step order.
    beta : float
        In [0, 1); 0 returns the losses themselves.

    Returns
    -------
    ndarray of shape (n,)
        float64.
    """
    _check("beta", beta, 0 <= beta < 1, "in [0, 1)")
    raw = np.asarray(losses, dtype=np.float64)
    out = np.full(raw.shape, np.nan)
    avg = 0.0
    for i, x in enumerate(raw):
        if not math.isfinite(x):
            break
        avg = beta * avg + (1 - beta) * x
        out[i] = avg / (1 - beta ** (i + 1))
    return out


def usable_length(smoothed: np.ndarray, diverge_th: float | None = 4.0) -> int:
    """Points before the first non-finite value or the first divergence.

    A point diverges when the smoothed loss exceeds ``diverge_th`` times the running minimum
    (checked only while that minimum is positive, as losses are).
    """
    sm = np.asarray(smoothed, dtype=np.float64)
    bad = ~np.isfinite(sm)
    end = int(np.argmax(bad)) if bad.any() else len(sm)
    if diverge_th is not None and end > 0:
        best = np.minimum.accumulate(sm[:end])
        with np.errstate(invalid="ignore", over="ignore"):
            over = (best > 0) & (sm[:end] > diverge_th * best)
        if over.any():
            end = int(np.argmax(over))
    return end


def window_slopes(x: np.ndarray, y: np.ndarray, width: float) -> np.ndarray:
    """Least-squares slope of ``y`` against ``x`` over a window around each point.

    The window of point ``i`` holds every point with ``|x_j - x_i| <= width / 2`` (``x``
    increasing), and at least ``i``'s two neighbours, so a slope is a local linear regression
    rather than a two-point difference: a single noisy point moves it by a fraction instead of
    deciding it. Near the ends the window is cut, not shifted. Prefix sums make it O(n).

    Returns
    -------
    ndarray of shape (n,)
        float64; 0 where the window's ``x`` are all equal (a single point).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(x)
    idx = np.arange(n)
    a = np.minimum(np.searchsorted(x, x - width / 2, side="left"), np.maximum(idx - 1, 0))
    b = np.maximum(np.searchsorted(x, x + width / 2, side="right"), np.minimum(idx + 2, n))
    xc = x - x.mean()  # centred: the sums of squares stay well conditioned
    yc = y - y.mean()  # and a flat stretch sums to exactly 0

    def window_sum(v: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(v)])
        return c[b] - c[a]

    m = (b - a).astype(np.float64)
    sx, sy = window_sum(xc), window_sum(yc)
    sxx, sxy = window_sum(xc * xc), window_sum(xc * yc)
    var = sxx - sx * sx / m
    cov = sxy - sx * sy / m
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 1e-12 * np.maximum(sxx, 1.0), cov / var, 0.0)


def _valley(losses: np.ndarray) -> tuple[int, int]:
    """fastai's ``valley``: the index ~2/3 down the longest decreasing run, and its length.

    The longest (not necessarily contiguous) decreasing subsequence by O(n^2) dynamic
    programming, replaying fastai's loop exactly (including where it records the start)::

        lds[i] = 1 + max(lds[j] for j < i if losses[i] < losses[j])
        (max_start, max_end) updated when lds[i] first beats lds[max_end]
        idx = max_start + int((max_end - max_start) / 3) + int((max_end - max_start) / 6)
    """
    n = len(losses)
    lds = np.ones(n, dtype=np.int64)
    max_start, max_end = 0, 0
    for i in range(1, n):
        # lds[i] as fastai's inner loop raises it, after each j < i
        candidates = np.where(losses[:i] > losses[i], lds[:i] + 1, 1)
        running = np.maximum.accumulate(np.maximum(candidates, 1))
        lds[i] = running[-1]
        beats = np.flatnonzero(running > lds[max_end])
        if len(beats):
            max_start = i - int(running[beats[0]])  # fastai reads lds[i] at that moment
            max_end = i
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return max(idx, 0), int(lds[max_end])


def _slide(lrs: np.ndarray, losses: np.ndarray, lr_diff: int = 15, thresh: float = 0.005) -> int:
    """fastai's ``slide`` (Andrew Chang's interval slide rule); returns an index.

    With ``grad = np.gradient(losses)`` (per point, not per LR), slide a pair of indices
    ``lr_diff`` apart from the right end leftwards while the two gradients differ by more than
    ``thresh``; the answer is the left index where the sliding stopped.
    """
    grad = np.gradient(losses)
    n = len(losses)
    r_idx = -1
    l_idx = r_idx - lr_diff
    local = n + l_idx
    while l_idx >= -n and abs(grad[r_idx] - grad[l_idx]) > thresh:
        local = n + l_idx
        r_idx -= 1
        l_idx -= 1
    return local


def suggest(
    lrs: np.ndarray | Sequence[float],
    smoothed: np.ndarray | Sequence[float],
    *,
    skip_start: int = 10,
    skip_end: int = 5,
    diverge_th: float | None = 4.0,
) -> dict[str, Suggestion]:
    """Suggested LRs from a range-test curve, by several rules.

    The curve is first cut at its first non-finite point or divergence (`usable_length`);
    then ``skip_start`` points are dropped from the front and ``skip_end`` from the back of
    what is left, and every rule reads that window:

    - ``recommended``: lrsweep's own pick, the one to train with when you want a single LR:
      a tenth of the LR at which the smoothed loss is lowest (the same value as
      ``minimum_10``), but None when that minimum is the window's first point, where the
      curve gives no evidence (``minimum_10`` still answers there). Why this rule: the top of
      the descent is set by stability, which a short ramp measures as well as full training
      does, while where the loss starts to fall (which ``valley`` and ``steep`` follow) is set
      by how far the weights have travelled, which the ramp's few steps under-state. Measured
      against full sweeps in ``benchmarks/bench_find.py``; it cannot see overfitting, which
      the training loss of a short ramp does not show.
    - ``valley``: fastai's default: about 2/3 of the way down the longest valley (the longest
      decreasing subsequence) of the smoothed loss.
    - ``steep``: the steepest negative slope of the smoothed loss against ``log10(lr)``, each
      slope a least-squares fit over ``STEEP_WINDOW`` (0.5) decade of LR around the point
      (`window_slopes`) rather than a two-point difference, so early noise cannot win; taken
      on the running minimum of the loss so that the recovery after an upward spike is not
      mistaken for a descent. (torch-lr-finder's and fastai's ``steep`` use the point
      gradient of the smoothed loss.)
    - ``minimum_10``: the LR at the smoothed loss's minimum, divided by 10 (fastai's
      ``minimum``).
    - ``slide``: fastai's interval slide rule (``lr_diff=15``, ``thresh=0.005``), which needs
      more than 15 points.
    - ``max_lr``: the upper bound for a cyclic schedule: the LR at which the smoothed loss
      stops falling, defined as the LR at its minimum (Smith 2017, §3.3).
    - ``base_lr``: ``max_lr / 4``, Smith's 3-4x range and the cyclic schedule's default
      ``base_lr_ratio`` of 0.25.

    Parameters
    ----------
    lrs : array-like of shape (n,)
        The LR at each point, increasing.
    smoothed : array-like of shape (n,)
        The smoothed loss at each point (`smooth`).
    skip_start, skip_end : int
        Points ignored at the start and at the (usable) end.
    diverge_th : float or None
        Cut the curve where the smoothed loss first exceeds this times its running minimum;
        None keeps every finite point.

    Returns
    -------
    dict of str to Suggestion
        One entry per name in `SUGGESTIONS`, in that order. ``index`` refers to ``lrs``.
    """
    lr = np.asarray(lrs, dtype=np.float64)
    sm = np.asarray(smoothed, dtype=np.float64)
    if lr.shape != sm.shape or lr.ndim != 1:
        raise ValueError(f"lrs, smoothed: must be 1-d of equal length, got {lr.shape}, {sm.shape}")
    if skip_start < 0 or skip_end < 0:
        raise ValueError(f"skip_start, skip_end: must be >= 0, got {skip_start}, {skip_end}")
    finite_lr = np.isfinite(lr) & (lr > 0)
    sm = np.where(finite_lr, sm, np.nan)
    end = usable_length(sm, diverge_th)
    lo, hi = skip_start, end - skip_end
    if hi - lo < MIN_POINTS:
        note = (
            f"curve too short: {end} usable points, {skip_start} + {skip_end} skipped, needs"
            f" {MIN_POINTS} more"
        )
        return {name: Suggestion(name, None, None, note) for name in SUGGESTIONS}
    lr_w, loss_w = lr[lo:hi], sm[lo:hi]
    log_lr = np.log10(lr_w)
    if np.any(np.diff(log_lr) <= 0):
        raise ValueError("lrs: must be increasing")
    out: dict[str, Suggestion] = {}

    lds_idx, lds_len = _valley(loss_w)
    if lds_len < 2:
        out["valley"] = Suggestion("valley", None, None, "the smoothed loss never falls")
    else:
        out["valley"] = Suggestion(
            "valley",
            float(lr_w[lds_idx]),
            lo + lds_idx,
            f"2/3 down the longest valley ({lds_len} points; fastai's valley)",
        )

    envelope = np.minimum.accumulate(loss_w)
    slope = window_slopes(log_lr, envelope, STEEP_WINDOW)
    i = int(np.argmin(slope))
    if not envelope[-1] < envelope[0] or slope[i] >= 0:  # never falls: slopes are rounding
        out["steep"] = Suggestion("steep", None, None, "the smoothed loss never falls")
    else:
        out["steep"] = Suggestion(
            "steep",
            float(lr_w[i]),
            lo + i,
            f"steepest descent: d loss / d log10(lr) = {slope[i]:.4g}, fitted over"
            f" {STEEP_WINDOW:g} decade",
        )

    i_min = int(np.argmin(loss_w))
    edge = "; at the window's first point: start the ramp lower" if i_min == 0 else ""
    out["minimum_10"] = Suggestion(
        "minimum_10",
        float(lr_w[i_min] / 10),
        lo + i_min,
        f"the LR at the smoothed loss's minimum / 10 (fastai's minimum){edge}",
    )

    lr_diff = 15
    if len(loss_w) <= lr_diff:
        out["slide"] = Suggestion(
            "slide", None, None, f"slide needs more than {lr_diff} points, got {len(loss_w)}"
        )
    else:
        j = _slide(lr_w, loss_w, lr_diff=lr_diff)
        out["slide"] = Suggestion(
            "slide", float(lr_w[j]), lo + j, "fastai's interval slide rule (15 points, 0.005)"
        )

    if i_min == 0:
        out["recommended"] = Suggestion(
            "recommended",
            None,
            None,
            "the smoothed loss is lowest at the window's first point: start the ramp lower",
        )
    else:
        out["recommended"] = Suggestion(
            "recommended",
            float(lr_w[i_min] / 10),
            lo + i_min,
            "the LR at the smoothed loss's minimum / 10 (lrsweep's pick; see suggest)",
        )

    out["max_lr"] = Suggestion(
        "max_lr",
        float(lr_w[i_min]),
        lo + i_min,
        f"where the smoothed loss stops falling: its minimum{edge}",
    )
    out["base_lr"] = Suggestion(
        "base_lr", float(lr_w[i_min] / 4), None, "max_lr / 4 (Smith's 3-4x cyclic range)"
    )
    return {name: out[name] for name in SUGGESTIONS}


def combine(
    curves: Sequence[RangeCurve], diverge_th: float | None = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """The seeds' smoothed losses combined into one curve: their geometric mean at each step.

    The curves share the ramp, so step ``i`` has the same LR in each; the combined curve
    stops where the first seed's usable part ends (`usable_length`: at its first non-finite
    point or divergence), since past it one seed has no loss. The geometric mean (the mean of
    the log losses) gives each seed the same weight whatever its loss level: a seed whose
    initial weights start it at a 5x higher loss (common with a regression's squared error)
    would otherwise decide the shape alone. Losses that are not all positive fall back to the
    arithmetic mean.

    Returns
    -------
    lr, smoothed : ndarray of shape (n,)
        The LRs and the combined smoothed loss, ``n`` the shortest usable length.
    """
    if not curves:
        raise ValueError("curves: must be non-empty")
    n = min(usable_length(c.smoothed, diverge_th) for c in curves)
    stacked = np.array([np.asarray(c.smoothed[:n], dtype=np.float64) for c in curves])
    lr = np.asarray(curves[0].lr[:n], dtype=np.float64)
    if n == 0:
        return lr, np.zeros(0)
    if np.all(stacked > 0):
        return lr, np.exp(np.log(stacked).mean(axis=0))
    return lr, stacked.mean(axis=0)


def spread(curves: Sequence[RangeCurve]) -> dict[str, Spread]:
    """Each suggestion's median (geometric, via log10), min and max over the curves."""
    result = {}
    for name in SUGGESTIONS:
        values = [c.suggestions[name].lr for c in curves if name in c.suggestions]
        found = np.array([v for v in values if v is not None], dtype=np.float64)
        if len(found) == 0:
            result[name] = Spread(None, None, None, 0)
        else:
            median = float(10 ** np.median(np.log10(found)))
            result[name] = Spread(median, float(found.min()), float(found.max()), len(found))
    return result


# --------------------------------------------------------------------------------------------
# The test itself.


RANGE_TEST_DEFAULTS = {"start_lr": 1e-7, "end_lr": 10.0, "num_iter": 100, "mode": "exp"}


def range_test_settings(spec: Spec, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ramp's settings (defaults filled in), checked: start below end, no hypergradient."""
    settings: dict[str, Any] = {k: options.get(k) or v for k, v in RANGE_TEST_DEFAULTS.items()}
    if not settings["start_lr"] < settings["end_lr"]:
        raise SpecError(
            f"--start-lr must be < --end-lr, got {settings['start_lr']} >= {settings['end_lr']}"
        )
    check_rampable(spec, f"{spec.source_file}: ")
    return settings


def check_rampable(spec: Spec, where: str = "") -> None:
    """A `SpecError` for an optimizer that owns its LR (`Optimizer.adapts_lr`): a ramp of the
    LR it would override measures nothing; nor does one of an LR it does not take (`needs_lr`
    False: cocob). The learning-rate-free methods that scale a nominal LR ramp that LR."""
    name = spec.optimizer.name
    if not OPTIMIZERS[name].needs_lr:
        raise SpecError(
            f"{where}optimizer.name: the range test ramps the LR, which {name} does not take"
            f" (it has no learning rate), got {name!r}"
        )
    if OPTIMIZERS[name].adapts_lr:
        raise SpecError(
            f"{where}optimizer.name: the range test ramps the LR, which {name} would override"
            f" with its own; use the optimizer without hypergradients, got {name!r}"
        )


def range_test_summary(result: Any, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The range test's answer: suggestions per seed, their spread, and a grid for a sweep.

    Each ``spread`` entry holds ``lr`` and ``note``, the rule read off the seeds' combined
    curve (`lrsweep.rangetest.combine`: the headline value), and the median, min and max of
    the seeds' own values with ``n``, how many seeds gave one.
    """
    spread = {}
    for name, s in result.spread.items():
        headline = result.suggestions.get(name)
        spread[name] = {
            "lr": headline.lr if headline is not None else s.median,
            "note": headline.note if headline is not None else "median over seeds",
            "median": s.median,
            "min": s.min,
            "max": s.max,
            "n": s.n,
        }
    stops = [float(c.lr[-1]) for c in result.curves if c.stop != "completed" and len(c.lr)]
    diverged_at = float(np.median(stops)) if stops else float(settings["end_lr"])
    valley = spread.get("valley", {}).get("lr")
    lr_min = (valley / 10) if valley else float(settings["start_lr"])
    lr_max = max(diverged_at, lr_min * 10)
    return {
        **settings,
        "seeds": [c.seed for c in result.curves],
        "stops": {str(c.seed): c.stop for c in result.curves},
        "diverged_at": diverged_at if stops else None,
        "suggestions": {
            str(c.seed): {name: {"lr": s.lr, "note": s.note} for name, s in c.suggestions.items()}
            for c in result.curves
        },
        "spread": spread,
        "grid": {"lr_min": canonical_lr(lr_min), "lr_max": canonical_lr(lr_max)},
    }


def _check(key: str, value: object, ok: bool, rule: str) -> None:
    if not ok:
        raise SpecError(f"range_test.{key}: must be {rule}, got {value!r}")


def _batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Mini-batch indices forever, one fresh permutation per epoch."""
    while True:
        yield from batch_indices(n, batch_size, rng)


def run_range_test(
    spec: Any,
    data: Dataset,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    mode: str = "exp",
    seeds: Sequence[int] = (0,),
    diverge_th: float = 4.0,
    beta: float = 0.98,
    val_every: int | None = None,
    skip_start: int = 10,
    skip_end: int = 5,
) -> RangeTestResult:
    """Run the LR range test once per seed and suggest LRs.

    Each seed trains a fresh model with its own initial weights and its own mini-batch order
    (`lrsweep.members.seed_starts`, as the lockstep trainer starts a seed; new permutations
    each epoch, cycling as often as ``num_iter`` needs), using the spec's model, optimizer and
    ``train.batch_size``. At step ``i`` the LR is ``ramp(...)[i]``; the loss of the batch is
    recorded before the step, then smoothed; the seed stops when its loss is not finite or its
    smoothed loss exceeds ``diverge_th`` x the best so far (that point is kept). `suggest`
    reads each seed's curve (``RangeCurve.suggestions``, summarised by `spread`) and the seeds'
    combined curve (`combine`; ``RangeTestResult.suggestions``, the headline values).

    Parameters
    ----------
    spec : Spec
        The experiment spec (``model``, ``optimizer`` and ``train.batch_size`` are used).
    data : Dataset
        The split data; the validation part is used only with ``val_every``.
    start_lr, end_lr, num_iter, mode
        The ramp (`ramp`).
    seeds : sequence of int
        One curve per seed.
    diverge_th : float
        Stop factor, > 1.
    beta : float
        Smoothing (`smooth`).
    val_every : int, optional
        Also record the validation loss every this many steps (before the step).
    skip_start, skip_end : int
        Passed to `suggest`.

    Returns
    -------
    RangeTestResult
    """
    lrs = ramp(start_lr, end_lr, num_iter, mode)
    _check("seeds", list(seeds), len(seeds) > 0, "a non-empty list")
    _check("diverge_th", diverge_th, diverge_th > 1, "> 1")
    _check("beta", beta, 0 <= beta < 1, "in [0, 1)")
    _check("val_every", val_every, val_every is None or val_every >= 1, ">= 1")
    check_rampable(spec)
    dtype, loss, activation, X_train, y_train, X_val, y_val = model_arrays(spec, data)
    sizes = layer_sizes(X_train.shape[1], spec.model.hidden, data.n_outputs)

    # One member per seed, trained in lockstep: each with its own initial weights and its
    # own mini-batch order, so the inputs are per member, (K, batch, features).
    K = len(seeds)
    thetas, order_rngs = seed_starts(spec, sizes, seeds, dtype)
    orders = [_batches(len(X_train), spec.train.batch_size, rng) for rng in order_rngs]
    theta = np.concatenate(thetas)  # (K, P): one row per seed (see `lrsweep.model`)
    optimizer = make_optimizer(spec.optimizer, [theta])
    members = Members(theta, sizes, [optimizer])
    workspace = Workspace()
    raw, smoothed, val = (np.full((K, num_iter), np.nan) for _ in range(3))
    avg, best = np.zeros(K), np.full(K, math.inf)
    stop = ["completed"] * K
    length = [num_iter] * K
    for i in range(num_iter):
        active = members.index
        idx = np.stack([next(orders[k]) for k in active])  # (active, batch)
        if val_every is not None and i % val_every == 0:
            val[active, i] = evaluate_layers(
                members.eval_layers(optimizer), X_val, y_val, activation, loss, workspace=workspace
            )[0]
        batch_loss, grad = train_step(
            members.layers, X_train[idx], y_train[idx], activation, loss, workspace
        )
        raw[active, i] = batch_loss
        finite = np.isfinite(batch_loss)
        avg[active] = np.where(finite, beta * avg[active] + (1 - beta) * batch_loss, avg[active])
        smoothed[active, i] = np.where(finite, avg[active] / (1 - beta ** (i + 1)), np.nan)
        best[active] = np.where(finite, np.fmin(best[active], smoothed[active, i]), best[active])
        diverged = finite & (smoothed[active, i] > diverge_th * best[active])
        for j in np.flatnonzero(~finite | diverged):
            stop[active[j]] = "non_finite" if not finite[j] else "diverged"
            length[active[j]] = i + 1
        keep = np.flatnonzero(finite & ~diverged)
        if len(keep) < len(active):
            members.keep(keep)
            grad = grad[keep]
        if len(members) == 0:
            break
        optimizer.step([members.theta], [grad], np.full(len(members), lrs[i], dtype=dtype))
    curves = [
        RangeCurve(
            int(seed),
            np.arange(n),
            lrs[:n].copy(),
            raw[k, :n],
            smoothed[k, :n],
            val[k, :n],
            stop[k],
        )
        for k, (seed, n) in enumerate(zip(seeds, length))
    ]
    rules = {"skip_start": skip_start, "skip_end": skip_end, "diverge_th": diverge_th}
    return _suggested(curves, float(start_lr), float(end_lr), num_iter, mode, rules)


def _suggested(
    curves: list[RangeCurve],
    start_lr: float,
    end_lr: float,
    num_iter: int,
    mode: str,
    rules: dict[str, Any],
) -> RangeTestResult:
    """Each seed's suggestions, their spread, and the headline read off the combined curve."""
    for curve in curves:
        curve.suggestions.update(suggest(curve.lr, curve.smoothed, **rules))
    lr, combined = combine(curves, rules["diverge_th"])
    headline = suggest(lr, combined, **rules)
    return RangeTestResult(curves, spread(curves), start_lr, end_lr, num_iter, mode, headline)
