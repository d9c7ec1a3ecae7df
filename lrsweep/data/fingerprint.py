"""What identifies a study's data: the file's content, or a builtin's parameters.

A results folder records this when its first runs train and compares it at every later
command (`lrsweep.results.ResultsDir.check_inputs`): the same path with other contents is
other data, and its runs cannot be pooled with the old ones. The same data means the same
bytes on disk (a SHA-256 of the file as stored, compressed or not), whatever its modification
time (a ``touch`` or a copy is the same data); a builtin is the same data when its parameters
are (they are the spec's ``data`` section, and its generator's code is lrsweep's version).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrsweep.data.load import data_file
from lrsweep.errors import DataError

if TYPE_CHECKING:
    from lrsweep.spec import DataSpec

CHUNK = 1 << 20


def data_fingerprint(spec: DataSpec, base_dir: Path) -> dict[str, Any]:
    """``{"file": path, "bytes": size, "sha256": digest}`` for a data file; ``{"builtin":
    name}`` for a builtin (its parameters are in the spec already)."""
    if spec.builtin is not None:
        return {"builtin": spec.builtin}
    path = data_file(spec, base_dir).resolve()
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    return {"file": str(path), "bytes": size, "sha256": digest.hexdigest()}
