"""The compiled elementwise path of the lockstep step: whether it can run, where its cache is.

`lrsweep.model` and `lrsweep.optimizers` can run the elementwise passes of a training step
(activations and their backward, the losses with their gradients, the optimizer updates)
through small numba kernels (`lrsweep._jit`) instead of one NumPy call per pass; the matrix
products stay in BLAS either way. NumPy stays the reference: every kernel repeats its float
operations in the same order, so a history is bit-identical whichever path trained it, and the
path can be chosen by speed alone (`lrsweep.costs.use_kernels`).

numba is optional (``pip install lrsweep[fast]``). Compiling the kernels takes a few seconds
once per machine and numba version; they are cached on disk under the user's cache directory
(``$NUMBA_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/lrsweep/numba`` or
``~/.cache/lrsweep/numba``), never beside the package, which may be read-only. A process that
uses them pays numba's import and the cache's load (about 0.3-0.5 s) once.

``LRSWEEP_KERNELS`` chooses: ``auto`` (default: the kernels where the cost model says they
pay), ``numpy`` (never, even with numba installed) or ``numba`` (always, compiling them if
the cache lacks them). `build` compiles every kernel into the cache: ``lrsweep warmup``, or
``python -m lrsweep.kernels`` (silent, for an install script). Nothing compiles them behind
the user's back: a background build during the first ``lrsweep run`` made that run slower
(digits: 3.2-3.4 s against 2.3-2.8 s), and by default the cost model uses them only once
cached, where they save more than loading them costs.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from lrsweep import model, optimizers
from lrsweep.errors import LrsweepError

__all__ = [
    "ENV",
    "KernelsError",
    "build",
    "cache_dir",
    "installed",
    "is_loaded",
    "kernels_cached",
    "load",
    "loaded",
    "mode",
]

ENV = "LRSWEEP_KERNELS"
MODES = ("auto", "numpy", "numba")
CACHE_ENV = "NUMBA_CACHE_DIR"

_lock = threading.Lock()
_module: ModuleType | None = None
_failed: str | None = None  # why loading failed in this process (then never tried again)
_loaded_from: Path | None = None  # the cache directory the kernels were loaded with


class KernelsError(LrsweepError):
    """A bad ``LRSWEEP_KERNELS`` value, or ``numba`` asked for and unusable."""


def mode() -> str:
    """``$LRSWEEP_KERNELS``: ``"auto"`` (unset or empty), ``"numpy"`` or ``"numba"``."""
    value = os.environ.get(ENV, "").strip().lower() or "auto"
    if value not in MODES:
        raise KernelsError(
            f"{ENV}: must be one of {', '.join(MODES)}, got {os.environ.get(ENV)!r}"
        )
    return value


def installed() -> bool:
    """Whether numba can be imported (looked up without importing it), and not switched off."""
    if mode() == "numpy" or _failed is not None:
        return False
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # a blocked or broken numba
        return False


def cache_dir() -> Path:
    """Where the compiled kernels are cached: ``$NUMBA_CACHE_DIR`` when the user set it, else
    ``$XDG_CACHE_HOME/lrsweep/numba`` (``~/.cache/lrsweep/numba``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lrsweep" / "numba"


def _stamp() -> str:
    """What a cache is valid for: the kernels' source, numba, Python and the machine."""
    source = Path(__file__).with_name("_jit.py")
    try:
        from importlib.metadata import version

        numba_version = version("numba")
    except Exception:  # not installed: no cache can be valid
        numba_version = "none"
    stat = source.stat()
    return "-".join(
        [
            f"py{sys.version_info[0]}{sys.version_info[1]}",
            f"numba{numba_version}",
            f"src{stat.st_size}x{int(stat.st_mtime)}",
            os.uname().machine if hasattr(os, "uname") else sys.platform,
        ]
    )


def _marker(directory: Path | None = None) -> Path:
    return (directory or cache_dir()) / f"lrsweep-kernels-{_stamp()}.ok"


def kernels_cached() -> bool:
    """Whether `build` has filled the cache for this numba, Python, machine and kernel source
    (a file test: cheap, imports nothing)."""
    try:
        return installed() and _marker().exists()
    except OSError:
        return False


def is_loaded() -> bool:
    """Whether the kernels are loaded in this process already (using them costs nothing more)."""
    return _module is not None


def loaded() -> ModuleType | None:
    """The kernels module if this process loaded it, else None (never loads)."""
    return _module


def load() -> ModuleType | None:
    """Import numba with lrsweep's cache directory and return the kernels module.

    Returns None, and never tries again in this process, when numba is missing, switched off
    (``LRSWEEP_KERNELS=numpy``) or fails to import; compiling happens later, on each kernel's
    first call, and loads from the cache when it can.
    """
    global _module, _failed
    with _lock:
        if _module is not None or _failed is not None or mode() == "numpy":
            return _module
        try:
            _module = _import_kernels()
        except ModuleNotFoundError as e:
            if (e.name or "").partition(".")[0] not in ("numba", "llvmlite"):
                _failed = f"{type(e).__name__}: {e}"
            else:
                _failed = "numba is not installed; pip install 'lrsweep[fast]'"
        except Exception as e:  # numba too old or too new for this NumPy, an unwritable cache
            _failed = f"{type(e).__name__}: {e}"
        return _module


def _import_kernels() -> ModuleType:
    global _loaded_from
    cache = _loaded_from = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    config: Any = importlib.import_module("numba.core.config")  # optional, heavy: only here

    saved = config.CACHE_DIR
    config.CACHE_DIR = str(cache)  # read when the kernels are decorated (their cache locator)
    try:
        return importlib.import_module("lrsweep._jit")
    finally:
        config.CACHE_DIR = saved


def failure() -> str | None:
    """Why the kernels could not be loaded in this process, or None."""
    return _failed


def build() -> float:
    """Compile every kernel for float32 and float64 into the cache (or load them from it);
    return the seconds it took. Marks the cache as built for this machine and version.

    Raises
    ------
    KernelsError
        If numba is missing or fails to compile.
    """
    start = time.perf_counter()
    module = load()
    if module is None:
        why = _failed or "numba is not installed; pip install 'lrsweep[fast]'"
        if mode() == "numpy":
            why = f"{ENV}=numpy switches them off"
        raise KernelsError(f"the compiled kernels are not available: {why}")
    exercise(module)
    marker = _marker(_loaded_from)
    for old in marker.parent.glob("lrsweep-kernels-*.ok"):
        if old != marker:
            old.unlink(missing_ok=True)
    marker.write_text(f"built in {time.perf_counter() - start:.2f} s\n")
    return time.perf_counter() - start


# What `exercise` trains: every compiled update, with and without its options.
EXERCISED = (
    {"name": "sgd"},
    {"name": "sgd", "weight_decay": 0.01},
    {"name": "sgd", "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    {"name": "sgd", "momentum": 0.9, "dampening": 0.1},
    {"name": "adam", "weight_decay": 0.01, "amsgrad": True},
    {"name": "adamw"},
    {"name": "rmsprop"},
    {"name": "rmsprop", "centered": True, "momentum": 0.9, "weight_decay": 0.01},
    {"name": "adagrad", "lr_decay": 0.01, "weight_decay": 0.01},
)


def exercise(kern: ModuleType, steps: int = 2) -> None:
    """Call every kernel with the argument types training gives it (float32 and float64;
    batches shared by the members or their own; training and evaluation), so that numba
    compiles each specialization now, or loads it from the cache."""
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        sizes = [3, 4, 4, 2]
        X = rng.standard_normal((6, 3)).astype(dtype)
        targets = {"cross_entropy": rng.integers(0, 2, 6), "mse": X[:, :2].copy()}
        for activation in model.ACTIVATIONS:
            for loss, Y in targets.items():
                for spec in EXERCISED:
                    for shared in (True, False):
                        theta = model.init_theta(
                            sizes, 2, activation=activation, rng=rng, dtype=dtype
                        )
                        layers = model.layer_views(theta, sizes)
                        optimizer = optimizers.make_optimizer(spec, [theta])
                        optimizer.use_kernels(kern)
                        workspace = model.Workspace(kern)
                        Xb, Yb = (X, Y) if shared else (np.stack([X, X]), np.stack([Y, Y]))
                        lr = np.full(2, 0.01, dtype=dtype)
                        for t in range(steps):
                            _, grad = model.train_step(layers, Xb, Yb, activation, loss, workspace)
                            beta = np.full(2, 0.9, dtype=dtype) if t and not shared else None
                            optimizer.step([theta], [grad], lr, momentum=beta)
                        model.evaluate_layers(layers, X, Y, activation, loss, workspace=workspace)


def main() -> int:
    """``python -m lrsweep.kernels``: build the cache silently (an install step; ``lrsweep
    warmup`` says how it went); exit status 0 when built, 1 when the kernels are unavailable."""
    try:
        build()
    except LrsweepError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
