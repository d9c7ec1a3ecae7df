"""Log grids, run ids and grouping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrsweep.costs import group_size_for
from lrsweep.plan import canonical_lr, log_grid, make_groups, plan_runs
from lrsweep.spec import load_spec


def test_log_grid_known_values():
    assert log_grid(1e-3, 1.0, 1).tolist() == pytest.approx([1e-3, 1e-2, 1e-1, 1.0])
    grid = log_grid(1e-4, 1.0, 2)
    assert len(grid) == 9 and grid[0] == 1e-4 and grid[-1] == 1.0
    assert grid[1] == pytest.approx(10**-3.5)


@given(
    lo=st.floats(-8, 1),
    span=st.floats(0.05, 6),
    ppd=st.integers(1, 30),
)
def test_log_grid_properties(lo, span, ppd):
    lr_min, lr_max = canonical_lr(10**lo), canonical_lr(10 ** (lo + span))
    if not lr_min < lr_max:
        return
    grid = log_grid(lr_min, lr_max, ppd)
    assert grid[0] == lr_min and grid[-1] == lr_max  # both ends, exactly
    assert np.all(np.diff(grid) > 0)  # sorted, no duplicates
    ratios = np.diff(np.log10(grid))
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-6, atol=1e-9)  # constant ratio
    assert ratios[0] <= 1 / ppd + 1e-9  # at least the asked density
    assert len(grid) == max(2, math.ceil(span * ppd - 1e-9) + 1) or len(grid) >= 2


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
    groups = make_groups(spec, runs, n_features=2, n_outputs=2)
    assert sorted(r.run_id for g in groups for r in g.runs) == sorted(r.run_id for r in runs)
    for g in groups:
        keys = [(r.seed, r.lr) for r in g.runs]
        assert keys == sorted(keys) and g.seed == g.runs[0].seed  # seed-major, then by LR
        assert len(g.runs) <= 16
    assert [len(g.runs) for g in groups] == [13, 13, 12, 13]  # balanced chunks of at most 16
    assert len({r.seed for r in groups[1].runs}) == 2  # seeds share groups
    assert make_groups(spec, runs[::-1], 2, 2) == groups  # a pure function of the runs


def test_compute_bound_models_train_alone(tiny_spec):
    spec = load_spec(tiny_spec())
    big = spec.model_copy(update={"model": spec.model.model_copy(update={"hidden": [1024, 1024]})})
    assert group_size_for(big, 16, 784, 10) == 1
    assert group_size_for(spec, 16, 2, 2) == 16
    assert group_size_for(spec, 20, 2, 2) == 10  # balanced chunks of at most 16
