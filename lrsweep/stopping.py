"""When a run stops early: decisions over the epochs a run reports, the same for every trainer.

A trainer reports losses; this rule says whether the run goes on (the model: optuna's
``trial.report`` / ``trial.should_prune``, a pruner that reads every trial's values). The
built-in lockstep trainer asks it for all its members at once (arrays of shape ``(K,)``); a
user's script is asked about one run at a time (`RunMonitor`), as its epochs arrive.

- **Diverged**: a loss that is not finite (NaN, inf) at any point, or an epoch-mean training
  loss above ``diverge_factor`` x the initial loss for ``DIVERGE_EPOCHS`` epochs in a row. One
  epoch above the limit is a spike, not divergence (Adam on a heavy-tailed table spikes past
  4x in its first epoch and then recovers to within 10 % of the best).
- **Pruned** (``prune.enabled``): at a rung (``prune.rungs`` x the epochs), a run that made
  less than ``prune.min_progress`` of the progress of its seed's best peer at that epoch, from
  the validation loss they all started at: a paired comparison (same initial weights, same
  batches), so a noisy table does not prune a good LR.

A diverged run is a result (the right side of the U-curve); so is a pruned one (evidence
about its LR, entered in the fit at its objective so far).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lrsweep.records import RunStatus

if TYPE_CHECKING:
    from lrsweep.spec import Spec

DIVERGE_EPOCHS = 2  # epochs in a row above diverge_factor x the initial loss: diverged


def prune_rungs(spec: Spec, epochs: int) -> frozenset[int]:
    """The epochs after which hopeless runs are pruned: ``prune.rungs`` x ``epochs``,
    never before the first epoch and never at the last (it would save nothing)."""
    if not spec.prune.enabled:
        return frozenset()
    rungs = {max(1, math.floor(fraction * epochs)) for fraction in spec.prune.rungs}
    return frozenset(r for r in rungs if r < epochs)


@dataclass(frozen=True)
class StopRule:
    """The early-stopping decisions of one group's runs (their spec and epoch budget)."""

    diverge_factor: float = 4.0
    rungs: frozenset[int] = frozenset()
    min_progress: float = 0.5
    diverge_epochs: int = DIVERGE_EPOCHS

    @classmethod
    def for_spec(cls, spec: Spec, epochs: int) -> StopRule:
        """The rule a spec sets for runs of ``epochs`` epochs."""
        return cls(
            diverge_factor=spec.train.diverge_factor,
            rungs=prune_rungs(spec, epochs),
            min_progress=spec.prune.min_progress,
            diverge_epochs=DIVERGE_EPOCHS,  # read now: benchmarks/bench_divergence.py varies it
        )

    def limit(self, initial_loss: np.ndarray) -> np.ndarray:
        """The training loss that counts as blown up: ``diverge_factor`` x the initial one."""
        return (self.diverge_factor * np.asarray(initial_loss)).astype(np.float64)

    def after_epoch(
        self, train_loss: np.ndarray, val_loss: np.ndarray, limit: np.ndarray, above: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One epoch's verdict: ``(above, diverged)``, the epochs in a row each run has now
        spent above its ``limit``, and which runs diverged (that many epochs in a row, or a
        validation loss that overflowed where the training batches did not)."""
        above = np.where(train_loss > limit, above + 1, 0)
        diverged = ~(np.isfinite(val_loss) & (above < self.diverge_epochs))
        return above, diverged

    def hopeless(
        self, epoch: int, start: np.ndarray, val_loss: np.ndarray, best: np.ndarray
    ) -> np.ndarray:
        """Which runs to prune after ``epoch``: none off a rung; at a rung, those that made
        less than ``min_progress`` of the progress of ``best`` (their seed's best peer's
        validation loss at this epoch) from ``start`` (the validation loss they started at)."""
        if epoch not in self.rungs:
            return np.zeros(np.shape(val_loss), dtype=bool)
        best_progress = start - best  # > 0 where the seed's best improved at all
        return (best_progress > 0) & (start - val_loss < self.min_progress * best_progress)


def non_finite(loss: np.ndarray) -> np.ndarray:
    """Runs whose loss is NaN or infinite: diverged at once, whatever the epoch."""
    return ~np.isfinite(loss)


class RunMonitor:
    """One run's reported epochs judged by a `StopRule`, as they arrive (a user's script).

    The initial loss is the one reported for epoch 0 (before training) when the run reports
    it, else the first epoch's. Divergence reads the training loss when the run reports one,
    else the objective; pruning compares the validation loss (or the objective) with the best
    of the run's peers at the same epoch (`observe`'s ``peer_best``).
    """

    def __init__(self, rule: StopRule) -> None:
        self.rule = rule
        self.limit: np.ndarray | None = None
        self.start: float | None = None  # the validation loss the run started at
        self.above = np.zeros(1)
        self.reason = ""

    def observe(
        self, epoch: int, loss: float, val_loss: float, peer_best: float | None = None
    ) -> RunStatus | None:
        """Judge one reported epoch: ``DIVERGED``, ``PRUNED`` or None (go on); ``reason``
        says why in a sentence."""
        losses = np.array([loss], dtype=np.float64)
        vals = np.array([val_loss], dtype=np.float64)
        if non_finite(losses)[0] or non_finite(vals)[0]:
            finite = math.isfinite(loss)
            which, bad = ("validation", val_loss) if finite else ("training", loss)
            self.reason = f"the {which} loss became {bad} at epoch {epoch}"
            return RunStatus.DIVERGED
        if self.limit is None:
            self.limit = self.rule.limit(losses)
            self.start = val_loss
            if epoch == 0:
                return None
        self.above, diverged = self.rule.after_epoch(losses, vals, self.limit, self.above)
        if diverged[0]:
            self.reason = (
                f"the training loss stayed above {self.rule.diverge_factor:g}x its initial"
                f" {self.limit[0] / self.rule.diverge_factor:.4g} for"
                f" {self.rule.diverge_epochs} epochs (epoch {epoch})"
            )
            return RunStatus.DIVERGED
        if peer_best is not None and self.start is not None:
            best = np.array([min(peer_best, val_loss)])
            if self.rule.hopeless(epoch, np.array([self.start]), vals, best)[0]:
                self.reason = (
                    f"pruned at epoch {epoch}: {val_loss:.4g} made less than"
                    f" {self.rule.min_progress:.0%} of the best peer's progress"
                    f" ({self.start:.4g} -> {peer_best:.4g})"
                )
                return RunStatus.PRUNED
        return None
