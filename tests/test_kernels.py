"""The compiled elementwise path (lrsweep.kernels, lrsweep._jit): the same bits as NumPy.

The suite runs on NumPy (conftest sets LRSWEEP_KERNELS=numpy); these tests run the compiled
path next to it and require identical numbers: kernel by kernel, step by step for every
activation, loss, compiled optimizer, dtype and batch layout, and whole histories through
`train_group` for the schedules, several seeds, divergence and pruning. The kernels are
compiled once per machine into pytest's cache (.pytest_cache/.../numba). Without numba those
tests skip, and one test runs training in a subprocess where importing numba fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pytest

from lrsweep import costs, kernels, model, optimizers
from lrsweep.data import load_dataset
from lrsweep.mlp import train_mlp_group
from lrsweep.plan import plan_runs
from lrsweep.records import Group
from lrsweep.spec import validate_spec

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def kern(request: pytest.FixtureRequest):
    """The kernels module, compiled into (or loaded from) pytest's persistent cache."""
    if kernels.loaded() is not None:
        return kernels.loaded()
    if not os.environ.get(kernels.CACHE_ENV):  # for the session: the marker lives there too
        os.environ[kernels.CACHE_ENV] = str(request.config.cache.mkdir("numba"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(kernels.ENV, "numba")
        if not kernels.installed():
            pytest.skip("numba is not installed")
        module = kernels.load()
    if module is None:
        pytest.fail(f"numba is installed but the kernels did not load: {kernels.failure()}")
    return module


@pytest.fixture
def compiled(kern, monkeypatch):
    """Training in this test takes the compiled path (LRSWEEP_KERNELS=numba)."""
    monkeypatch.setenv(kernels.ENV, "numba")
    return kern


# --------------------------------------------------------------------------------------------
# Kernel by kernel


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_sum_is_numpys_add_reduce_bit_for_bit(kern, dtype):
    rng = np.random.default_rng(0)
    for n in [*range(1, 300), 1000, 4096, 5000, 40_000]:
        a = (rng.standard_normal(n) * np.exp(rng.uniform(-8, 8, n))).astype(dtype)
        assert kern.pairwise_sum(a, 0, n, dtype(0)) == np.add.reduce(a), n


def _step_history(kern, activation, loss, spec, dtype, shared, steps=6, K=3):
    """Losses and parameters of a few lockstep steps (LRs up to 1: some members blow up)."""
    rng = np.random.default_rng(1)
    sizes = [5, 7, 6, 3]
    theta = model.init_theta(sizes, K, activation=activation, rng=rng, dtype=dtype)
    theta += rng.standard_normal(theta.shape).astype(dtype) * dtype(0.1)  # members differ
    layers = model.layer_views(theta, sizes)
    optimizer = optimizers.make_optimizer(spec, [theta])
    optimizer.use_kernels(kern)
    workspace = model.Workspace(kern)
    X = rng.standard_normal((30, 5)).astype(dtype)
    Y = rng.integers(0, 3, 30) if loss == "cross_entropy" else X[:, :3] ** 2
    lrs = np.logspace(-2, 0, K).astype(dtype)
    out = []
    for t in range(steps):
        idx = rng.permutation(30)[: 11 if t % 2 else 16]
        Xb, Yb = (X[idx], Y[idx]) if shared else (np.stack([X[idx]] * K), np.stack([Y[idx]] * K))
        losses, grad = model.train_step(layers, Xb, Yb, activation, loss, workspace)
        beta = np.linspace(0.8, 0.95, K).astype(dtype) if t % 3 == 2 else None
        optimizer.step([theta], [grad], lrs * dtype(1 + 0.1 * t), momentum=beta)
        out.append(losses.copy())
    evaluated = model.evaluate_layers(layers, X, Y, activation, loss, workspace=workspace)
    return [*out, theta.copy(), *evaluated]


STEP_CASES = [
    (activation, loss, i)
    for activation in model.ACTIVATIONS
    for loss in model.LOSSES
    for i in range(len(kernels.EXERCISED))
]


@pytest.mark.parametrize(
    ("activation", "loss", "which"),
    STEP_CASES,
    ids=[f"{a}-{lo}-{kernels.EXERCISED[i]}" for a, lo, i in STEP_CASES],
)
def test_a_compiled_step_is_numpys_bit_for_bit(kern, activation, loss, which):
    spec = kernels.EXERCISED[which]
    for dtype in (np.float32, np.float64):
        for shared in (True, False):
            reference = _step_history(None, activation, loss, spec, dtype, shared)
            compiled = _step_history(kern, activation, loss, spec, dtype, shared)
            for a, b in zip(reference, compiled, strict=True):
                np.testing.assert_array_equal(a, b)


def test_the_kernels_keep_nan_and_inf_as_numpy_does(kern):
    out = np.array([[[np.nan, 1.0, 2.0], [np.inf, 0.0, 1.0], [-0.0, 0.0, -1.0]]], np.float32)
    for loss, Y in (("cross_entropy", np.array([0, 1, 2])), ("mse", np.zeros((3, 3)))):
        a, b = out.copy(), out.copy()
        with np.errstate(all="ignore"):
            ref = model._loss(a, Y, loss, need_grad=True, inplace=True)
            got = model._loss(b, Y, loss, need_grad=True, inplace=True, kern=kern)
        np.testing.assert_array_equal(ref[0], got[0])
        np.testing.assert_array_equal(a, b)
    A = out.copy()
    kern.relu(A)
    np.testing.assert_array_equal(A, np.maximum(out, np.zeros_like(out)))


# --------------------------------------------------------------------------------------------
# Whole histories through train_group


def _spec(**sections):
    document = {
        "name": "k",
        "data": {"builtin": "spirals", "n_samples": 240, "noise": 0.1},
        "model": {"hidden": [12, 12]},
        "optimizer": {"name": "sgd", "momentum": 0.9},
        "train": {"epochs": 4, "batch_size": 16, "seeds": 1},
    }
    for key, value in sections.items():
        document[key] = {**document.get(key, {}), **value}
    return validate_spec(document)


def _histories(spec, lrs, seeds=(0,)):
    data = load_dataset(spec.data, Path(spec.base_dir))
    runs = tuple(r for r in plan_runs(spec, lrs, 0) if r.seed in seeds)
    results = train_mlp_group(Group(spec, seeds[0], spec.train.epochs, 1.0, runs), data)
    return [(r.status, r.epochs_done, _rows(r.history)) for r in results]


def _rows(history):
    """A history as text (NaN equals NaN there), every number to the bit."""
    return [tuple(repr(v) for v in astuple(row)) for row in history]


HISTORY_CASES = {
    "sgd-cosine-warmup": {"schedule": {"name": "cosine", "warmup_steps": 5}},
    "nesterov-onecycle": {
        "optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True},
        "schedule": {"name": "onecycle"},
    },
    "adam-cyclic": {"optimizer": {"name": "adam"}, "schedule": {"name": "cyclic"}},
    "adamw-step": {"optimizer": {"name": "adamw"}, "schedule": {"name": "step"}},
    "rmsprop-plateau": {"optimizer": {"name": "rmsprop"}, "schedule": {"name": "plateau"}},
    "adagrad-exponential": {"optimizer": {"name": "adagrad"}, "schedule": {"name": "exponential"}},
    "adam-hd-numpy-update": {"optimizer": {"name": "adam_hd"}},
    "leaky-float64": {"model": {"activation": "leaky_relu", "dtype": "float64"}},
    "tanh-regression": {
        "data": {"builtin": "teacher", "n_samples": 200, "n_features": 6, "task": "regression"},
        "model": {"activation": "tanh"},
    },
    "pruned": {"prune": {"enabled": True}, "train": {"epochs": 6}},
}


@pytest.mark.parametrize("case", list(HISTORY_CASES))
def test_histories_are_bit_identical_on_either_path(compiled, monkeypatch, case):
    spec = _spec(**HISTORY_CASES[case])
    lrs = [1e-3, 1e-2, 0.1, 1.0, 30.0]  # the last ones diverge: members dropped mid-epoch
    calls = []
    backward = model._compiled_backward
    monkeypatch.setattr(model, "_compiled_backward", lambda *a: calls.append(backward(*a)))
    with_kernels = _histories(spec, lrs)
    assert calls  # the compiled path did run
    monkeypatch.setenv(kernels.ENV, "numpy")
    assert _histories(spec, lrs) == with_kernels


def test_a_group_of_several_seeds_is_bit_identical_on_either_path(compiled, monkeypatch):
    spec = _spec(train={"seeds": 3}, optimizer={"name": "adam"})
    lrs = [1e-3, 1e-2, 0.1, 1e3]
    with_kernels = _histories(spec, lrs, seeds=(0, 1, 2))
    monkeypatch.setenv(kernels.ENV, "numpy")
    assert _histories(spec, lrs, seeds=(0, 1, 2)) == with_kernels


# --------------------------------------------------------------------------------------------
# Choosing the path, the setting, the cache


def test_the_setting_is_checked(monkeypatch):
    monkeypatch.setenv(kernels.ENV, "fast")
    with pytest.raises(kernels.KernelsError, match=r"LRSWEEP_KERNELS: must be one of auto, "):
        kernels.mode()
    monkeypatch.setenv(kernels.ENV, " NumPy ")
    assert kernels.mode() == "numpy"
    assert not kernels.installed()  # switched off: numba is not even looked up


def test_the_cost_model_picks_the_kernels_only_where_they_pay(monkeypatch):
    small = Group(_spec(), 0, 4, 1.0, tuple(plan_runs(_spec(), [0.01, 0.1], 0)))
    shape = (192, 48, 2, 2)
    assert costs.kernel_saving(small, 192, 2, 2) < costs.KERNELS_LOAD_SECONDS
    big_shape = (200_000, 48, 64, 10)
    assert costs.kernel_saving(small, *big_shape[:1], 64, 10) > costs.KERNELS_LOAD_SECONDS
    monkeypatch.setattr(kernels, "installed", lambda: True)
    monkeypatch.setattr(kernels, "kernels_cached", lambda: True)
    monkeypatch.setattr(kernels, "is_loaded", lambda: False)
    monkeypatch.setenv(kernels.ENV, "auto")
    assert not costs.use_kernels(small, shape)  # loading would cost more than it saves
    assert costs.use_kernels(small, big_shape)
    monkeypatch.setattr(kernels, "kernels_cached", lambda: False)
    assert not costs.use_kernels(small, big_shape)  # never compiles inside a run by default
    monkeypatch.setattr(kernels, "is_loaded", lambda: True)
    assert costs.use_kernels(small, shape)  # loaded already: nothing more to pay
    monkeypatch.setenv(kernels.ENV, "numpy")
    assert not costs.use_kernels(small, big_shape)
    monkeypatch.setenv(kernels.ENV, "numba")
    monkeypatch.setattr(kernels, "is_loaded", lambda: False)
    assert costs.use_kernels(small, shape)


def test_the_cache_is_the_users_not_the_packages(monkeypatch, tmp_path):
    monkeypatch.delenv(kernels.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kernels.cache_dir() == tmp_path / "xdg" / "lrsweep" / "numba"
    monkeypatch.setenv(kernels.CACHE_ENV, str(tmp_path / "mine"))
    assert kernels.cache_dir() == tmp_path / "mine"


def test_the_compiled_kernels_are_cached_outside_the_package(kern):
    cache = kernels.cache_dir() if os.environ.get(kernels.CACHE_ENV) else None
    index_files = list((REPO / "lrsweep").rglob("*.nbi"))
    assert index_files == []  # nothing written beside the sources (may be read-only)
    if cache is not None:
        assert list(Path(cache).rglob("*.nbi"))


def test_build_marks_the_cache(kern, monkeypatch):
    monkeypatch.setenv(kernels.ENV, "auto")
    kernels.build()  # loads from the cache: quick after the first time on a machine
    assert kernels.kernels_cached()


def test_training_without_numba_takes_numpy_and_gives_the_same_numbers(monkeypatch):
    spec_doc = {
        "name": "nonumba",
        "data": {"builtin": "moons", "n_samples": 120, "noise": 0.2},
        "model": {"hidden": [8]},
        "optimizer": {"name": "adam"},
        "train": {"epochs": 2, "batch_size": 16, "seeds": 1},
    }
    script = f"""
import json, sys
sys.modules["numba"] = None  # importing numba fails, as when it is not installed
from lrsweep import kernels
from dataclasses import astuple
from pathlib import Path
from lrsweep.plan import plan_runs
from lrsweep.records import Group
from lrsweep.spec import validate_spec
from lrsweep.data import load_dataset
from lrsweep.mlp import train_mlp_group
spec = validate_spec({spec_doc!r})
runs = tuple(plan_runs(spec, [0.01, 0.1], 0))
data = load_dataset(spec.data, Path(spec.base_dir))
results = train_mlp_group(Group(spec, 0, 2, 1.0, runs), data)
print(json.dumps([kernels.installed(), kernels.loaded() is None,
                  [[[repr(v) for v in astuple(row)] for row in r.history] for r in results]]))
"""
    for setting in ("auto", "numba"):
        env = {**os.environ, kernels.ENV: setting}
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
        )
        installed, not_loaded, histories = json.loads(proc.stdout)
        assert not installed and not_loaded
        monkeypatch.setenv(kernels.ENV, "numpy")
        spec = validate_spec(spec_doc)
        runs = tuple(plan_runs(spec, [0.01, 0.1], 0))
        here = train_mlp_group(
            Group(spec, 0, 2, 1.0, runs), load_dataset(spec.data, Path(spec.base_dir))
        )
        assert histories == [[[repr(v) for v in astuple(row)] for row in r.history] for r in here]


def test_warmup_without_numba_names_the_install_command():
    script = (
        "import sys; sys.modules['numba'] = None\nfrom lrsweep.cli import cli\ncli(['warmup'])\n"
    )
    env = {**os.environ, kernels.ENV: "auto"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "numba is not installed; pip install 'lrsweep[fast]'" in proc.stderr
    assert "Traceback" not in proc.stderr
