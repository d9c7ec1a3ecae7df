"""Lockstep training: members match solo runs, divergence is a result, epoch 0 is untrained."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrsweep import training
from lrsweep.analysis import aggregate
from lrsweep.orchestrate import load_data
from lrsweep.plan import plan_runs
from lrsweep.records import Group, RunStatus
from lrsweep.spec import validate_spec
from lrsweep.stopping import prune_rungs
from lrsweep.training import train_group


def make_spec(**sections):
    document = {
        "name": "t",
        "data": {"builtin": "spirals", "n_samples": 300, "noise": 0.1},
        "model": {"hidden": [16, 16]},
        "optimizer": {"name": "sgd", "momentum": 0.9},
        "train": {"epochs": 3, "batch_size": 32, "seeds": 1},
    }
    for key, value in sections.items():
        document[key] = {**document.get(key, {}), **value}
    return validate_spec(document)


def group_of(spec, lrs, seed=0):
    runs = plan_runs(spec, lrs, 0)
    return Group(spec, seed, spec.train.epochs, 1.0, tuple(r for r in runs if r.seed == seed))


def test_member_of_a_group_of_8_matches_the_run_alone():
    spec = make_spec()
    data = load_data(spec)
    lrs = np.logspace(-3, -1, 8)
    together = train_group(group_of(spec, lrs), data)
    for k, lr in enumerate(lrs):
        alone = train_group(group_of(spec, [lr]), data)[0]
        for a, b in zip(together[k].history, alone.history, strict=True):
            np.testing.assert_allclose(
                [a.train_loss, a.val_loss, a.val_metric], [b.train_loss, b.val_loss, b.val_metric],
                rtol=1e-4, atol=1e-6,
            )  # fmt: skip


@pytest.mark.parametrize("optimizer", ["sgd", "adam_hd", "prodigy", "sgd_schedulefree"])
def test_a_group_of_several_seeds_is_bit_identical_to_each_run_alone(optimizer):
    spec = make_spec(optimizer={"name": optimizer}, train={"seeds": 3})
    data = load_data(spec)
    runs = plan_runs(spec, [1e-3, 1e-2, 0.1, 1e3], 0)  # 1e3 diverges during an epoch
    interleaved = tuple(sorted(runs, key=lambda r: (r.lr, -r.seed)))  # any member order works
    together = train_group(Group(spec, 0, spec.train.epochs, 1.0, interleaved), data)
    assert any(r.status is RunStatus.DIVERGED for r in together)
    for run, result in zip(interleaved, together, strict=True):
        alone = train_group(Group(spec, run.seed, spec.train.epochs, 1.0, (run,)), data)[0]
        assert (result.status, result.epochs_done) == (alone.status, alone.epochs_done)
        assert repr(result.history) == repr(alone.history)  # bit for bit (nan == nan)
    zeros = {(run.seed, result.history[0].val_loss) for run, result in zip(interleaved, together)}
    assert len(zeros) == 3  # epoch 0: one per seed, shared by its members


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop", "adagrad", "adamw"])
def test_same_group_twice_is_bit_identical(optimizer):
    spec = make_spec(optimizer={"name": optimizer, "momentum": 0.0})
    data = load_data(spec)
    first = train_group(group_of(spec, [1e-3, 1e-2]), data)
    second = train_group(group_of(spec, [1e-3, 1e-2]), data)
    assert [r.history for r in first] == [r.history for r in second]


def test_epoch_zero_is_before_training_and_shared_by_members():
    spec = make_spec()
    data = load_data(spec)
    results = train_group(group_of(spec, [1e-3, 1e-2, 1e-1]), data)
    zero = {(r.history[0].epoch, r.history[0].step, r.history[0].val_loss) for r in results}
    assert len(zero) == 1 and next(iter(zero))[:2] == (0, 0)
    assert math.isclose(results[0].history[0].val_loss, math.log(3), rel_tol=0.3)
    for r in results:
        assert [h.epoch for h in r.history] == [0, 1, 2, 3]
        assert r.status is RunStatus.OK and r.epochs_done == 3
        steps = [h.step for h in r.history]
        assert steps == [0, 8, 16, 24]  # 240 training samples / 32 per batch = 8 steps


def test_a_diverging_member_is_frozen_and_the_others_go_on():
    spec = make_spec(train={"epochs": 4})
    data = load_data(spec)
    results = train_group(group_of(spec, [1e-2, 1e3]), data)
    ok, blown = results
    assert ok.status is RunStatus.OK and len(ok.history) == 5
    assert blown.status is RunStatus.DIVERGED
    assert blown.epochs_done < 4 and len(blown.history) >= 2  # epoch 0 and the stopping row
    last = blown.history[-1].train_loss
    assert (
        not math.isfinite(last) or last > spec.train.diverge_factor * blown.history[0].train_loss
    )
    alone = train_group(group_of(spec, [1e-2]), data)[0]
    assert alone.history == ok.history  # dropping a member does not disturb the others


def test_regression_reports_r2():
    spec = make_spec(data={"builtin": "teacher", "n_samples": 400, "noise": 0.05,
                           "n_classes": 3})  # fmt: skip
    data = load_data(spec)
    result = train_group(group_of(spec, [3e-2]), data)[0]
    assert result.status is RunStatus.OK
    assert result.history[-1].val_metric > result.history[0].val_metric
    assert result.history[-1].val_loss < result.history[0].val_loss


def test_float64_runs():
    spec = make_spec(model={"dtype": "float64"})
    result = train_group(group_of(spec, [1e-2]), load_data(spec))[0]
    assert result.status is RunStatus.OK


def test_history_records_the_scheduled_lr():
    spec = make_spec(schedule={"name": "step", "step_size": 1, "gamma": 0.5})
    result = train_group(group_of(spec, [0.1]), load_data(spec))[0]
    # epoch k's row holds the LR of its last step: 0.1 * 0.5**(k-1); epoch 0 the first LR
    assert [h.lr for h in result.history] == pytest.approx([0.1, 0.1, 0.05, 0.025])


def test_warmup_and_cosine_per_step():
    spec = make_spec(schedule={"name": "cosine", "interval": "step", "warmup_steps": 4})
    result = train_group(group_of(spec, [0.1]), load_data(spec))[0]
    assert result.history[0].lr == pytest.approx(0.1 * 0.01)  # warmup starts at 1% of the LR
    assert result.history[-1].lr < 0.01  # annealed towards 0 by the last step


@pytest.mark.parametrize("name", ["sgd_hd", "adam_hd"])
def test_hypergradient_adapts_and_records_the_lr(name):
    spec = make_spec(optimizer={"name": name, "momentum": 0.0, "hyper_lr": 1e-2})
    results = train_group(group_of(spec, [1e-3, 1e-2]), load_data(spec))
    for r in results:
        assert r.status is RunStatus.OK
        assert r.history[-1].lr != pytest.approx(r.history[0].lr)


def test_plateau_reduces_the_lr_per_member():
    spec = make_spec(
        train={"epochs": 6},
        schedule={"name": "plateau", "patience": 0, "factor": 0.5, "threshold": 0.5},
    )
    results = train_group(group_of(spec, [1e-3, 1e-2]), load_data(spec))
    for r in results:
        lrs = [h.lr for h in r.history]
        assert lrs[-1] < lrs[0]  # a 50% improvement per epoch is never met: the LR halves


def test_pruning_stops_clearly_worse_members_at_a_rung_with_their_history():
    spec = make_spec(train={"epochs": 4, "seeds": 2}, prune={"enabled": True, "min_progress": 0.9})
    assert prune_rungs(spec, 4) == {1, 2}  # rungs 0.25 and 0.5 of 4 epochs
    assert prune_rungs(make_spec(), 4) == frozenset()  # off by default
    data = load_data(spec)
    runs = tuple(sorted(plan_runs(spec, [1e-4, 3e-2], 0), key=lambda r: (r.seed, r.lr)))
    pruned = train_group(Group(spec, 0, 4, 1.0, runs), data)
    full = train_group(Group(make_spec(train={"epochs": 4, "seeds": 2}), 0, 4, 1.0, runs), data)
    for run, p, f in zip(runs, pruned, full, strict=True):
        if run.lr == 1e-4:  # hardly moves from its initial loss: above the best at a rung
            assert p.status is RunStatus.PRUNED and p.epochs_done in (1, 2)
            assert p.history == f.history[: p.epochs_done + 1]  # its history so far
        else:
            assert p.status is RunStatus.OK and p.history == f.history


def test_a_pruned_seed_censors_its_lr():
    rows = [
        {"lr": 0.1, "status": "ok", "objective": 0.5},
        {"lr": 0.1, "status": "ok", "objective": 0.6},
        {"lr": 0.001, "status": "ok", "objective": 0.4},
        {"lr": 0.001, "status": "pruned", "objective": math.nan},
    ]
    low, high = aggregate(rows, "final_val_loss")
    assert low.n_pruned == 1 and low.score == math.inf  # worse than the cut: never the best
    assert high.score == pytest.approx(0.55)


def test_epoch_zero_is_evaluated_once_per_seed_across_groups(monkeypatch):
    spec = make_spec(train={"seeds": 2, "epochs": 1})
    data = load_data(spec)
    calls = []
    real = training.initial_losses
    monkeypatch.setattr(training, "initial_losses", lambda *a: calls.append(1) or real(*a))
    runs = sorted(plan_runs(spec, [1e-3, 1e-2, 1e-1], 0), key=lambda r: (r.seed, r.lr))
    for run in runs:  # six groups of one, two seeds
        train_group(Group(spec, run.seed, 1, 1.0, (run,)), data)
    assert len(calls) == 2
    train_group(Group(spec, 0, 1, 0.5, tuple(runs)), data)  # another budget: other data
    assert len(calls) == 4
