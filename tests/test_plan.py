"""Log grids, run ids and grouping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrsweep.costs import group_size_for
from lrsweep.mlp import pack_lockstep
from lrsweep.plan import (
    LATTICE_PER_DECADE,
    canonical_lr,
    lattice_index,
    lattice_lr,
    log_grid,
    plan_runs,
)
from lrsweep.spec import load_spec


def test_log_grid_known_values():
    assert log_grid(1e-3, 1.0, 1).tolist() == pytest.approx([1e-3, 1e-2, 1e-1, 1.0])
    grid = log_grid(1e-4, 1.0, 2)
    assert len(grid) == 9 and grid[0] == 1e-4 and grid[-1] == 1.0
    assert grid[1] == pytest.approx(10**-3.5)


@given(
    lo=st.floats(-8, 1),
    span=st.floats(0.05, 6),
    ppd=st.integers(1, 64),
)
def test_log_grid_properties(lo, span, ppd):
    lr_min, lr_max = canonical_lr(10**lo), canonical_lr(10 ** (lo + span))
    if not lr_min < lr_max:
        return
    grid = log_grid(lr_min, lr_max, ppd)
    assert grid[0] == lr_min and grid[-1] == lr_max  # both ends, exactly
    assert np.all(np.diff(grid) > 0)  # sorted, no duplicates
    ks = [lattice_index(x) for x in grid]
    assert [lattice_lr(k) for k in ks] == grid.tolist()  # every point is a lattice point
    steps = np.diff(ks)
    assert steps.max() <= math.ceil(LATTICE_PER_DECADE / ppd)  # at least the asked density
    if LATTICE_PER_DECADE % ppd == 0 and (ks[-1] - ks[0]) % (LATTICE_PER_DECADE // ppd) == 0:
        assert set(steps.tolist()) == {LATTICE_PER_DECADE // ppd}  # a constant ratio


DENSITIES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


@given(
    lo=st.integers(-8 * 960, 0),
    decades=st.integers(1, 6),
    coarse=st.sampled_from(DENSITIES),
    factor=st.sampled_from((1, 2, 4, 8)),
    noise=st.floats(-1e-9, 1e-9),
)
def test_grids_of_every_density_share_lattice_points(lo, decades, coarse, factor, noise):
    # the same point computed from different ends and densities is the same float
    fine = coarse * factor
    lr_min = lattice_lr(lo) * (1 + noise)
    lr_max = lattice_lr(lo + decades * LATTICE_PER_DECADE) * (1 - noise)
    a = set(log_grid(lr_min, lr_max, coarse).tolist())
    b = set(log_grid(lattice_lr(lo), lattice_lr(lo + decades * 960), fine).tolist())
    if fine <= 64:
        assert a <= b
    mid = sorted(a)[1] if len(a) > 2 else sorted(a)[0]
    assert canonical_lr(mid * (1 + 1e-6)) == mid
    assert canonical_lr(float(f"{mid:.11g}")) == mid  # another round's spelling of the point


def test_the_issues_two_spellings_are_one_point():
    assert canonical_lr(0.30288727402) == canonical_lr(0.302887274021)


@pytest.mark.parametrize(("lr_min", "lr_max"), [(0, 1), (-1, 1), (1, 1), (2, 1)])
def test_log_grid_rejects_bad_ranges(lr_min, lr_max):
    with pytest.raises(ValueError, match="need 0 < lr_min < lr_max"):
        log_grid(lr_min, lr_max, 2)


def test_run_ids_are_deterministic_and_distinct(tiny_spec):
    spec = load_spec(tiny_spec())
    runs = plan_runs(spec, [0.01, 0.1], 0)
    again = plan_runs(load_spec(tiny_spec()), [0.1, 0.01], 0)
    assert [r.run_id for r in runs] == [r.run_id for r in again]
    assert len({r.run_id for r in runs}) == 4
    other = spec.model_copy(update={"name": "renamed"})
    assert [r.run_id for r in plan_runs(other, [0.01, 0.1], 0)] == [r.run_id for r in runs]
    wider = spec.model_copy(update={"model": spec.model.model_copy(update={"hidden": [9]})})
    assert not {r.run_id for r in plan_runs(wider, [0.01, 0.1], 0)} & {r.run_id for r in runs}


def test_groups_share_a_budget_mix_seeds_and_cover_every_run(tiny_spec):
    spec = load_spec(tiny_spec(seeds=3, lr_min="1e-4", lr_max="1"))
    runs = plan_runs(spec, log_grid(1e-4, 1, 4), 0)  # 17 LRs x 3 seeds
    groups = pack_lockstep(spec, runs, n_features=2, n_outputs=2)
    assert sorted(r.run_id for g in groups for r in g.runs) == sorted(r.run_id for r in runs)
    for g in groups:
        keys = [(r.seed, r.lr) for r in g.runs]
        assert keys == sorted(keys) and g.seed == g.runs[0].seed  # seed-major, then by LR
        assert len(g.runs) <= 16
    assert [len(g.runs) for g in groups] == [13, 13, 12, 13]  # balanced chunks of at most 16
    assert len({r.seed for r in groups[1].runs}) == 2  # seeds share groups
    assert pack_lockstep(spec, runs[::-1], 2, 2) == groups  # a pure function of the runs


def test_compute_bound_models_train_alone(tiny_spec):
    spec = load_spec(tiny_spec())
    big = spec.model_copy(update={"model": spec.model.model_copy(update={"hidden": [1024, 1024]})})
    assert group_size_for(big, 16, 784, 10) == 1
    assert group_size_for(spec, 16, 2, 2) == 16
    assert group_size_for(spec, 20, 2, 2) == 10  # balanced chunks of at most 16
