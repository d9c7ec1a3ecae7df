"""What this machine can give a sweep: the memory a process may still allocate.

One home for the probe, read by the data reader (a file too large to load) and by the cost
model (a model or builtin too large to train), so both honour the same limits: a cgroup's
(a container's), and ``$LRSWEEP_MEMORY_BYTES`` (tests, shared machines).
"""

from __future__ import annotations

import math
import os

MEMORY_ENV = "LRSWEEP_MEMORY_BYTES"  # overrides the memory available (tests, shared machines)


def available_memory() -> float:
    """Bytes this process may still allocate: ``MemAvailable`` (Linux) within a cgroup's
    limit, or the physical memory elsewhere; ``$LRSWEEP_MEMORY_BYTES`` overrides; ``inf``
    when nothing can be read."""
    if os.environ.get(MEMORY_ENV):
        return float(os.environ[MEMORY_ENV])
    found: list[float] = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(float(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = float(f.read().strip())
        if limit != "max":
            found.append(float(limit) - used)
    except (OSError, ValueError):
        pass
    if not found:
        try:
            found.append(float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")))
        except (OSError, ValueError, AttributeError):
            return math.inf
    return max(min(found), 0.0)


def gib(n_bytes: float) -> str:
    """Bytes as a short human figure: ``86 GiB``, ``12 MiB``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes / 2**10:.3g} KiB"
