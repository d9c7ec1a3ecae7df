"""Data: tables from files (CSV any delimiter, TSV, Parquet) or built-in generators, column roles
and encodings, the split, standardisation and the mini-batch order.

One module per step: :mod:`.read`, :mod:`.columns`, :mod:`.split`, :mod:`.builtins`, with
:func:`load_dataset` (in :mod:`.load`) running them in order. Library code only: nothing here
prints; notes and warnings are returned as data on the :class:`Dataset`.
"""

from __future__ import annotations

from lrsweep.data.builtins import BUILTINS
from lrsweep.data.columns import ColumnReport, data_summary_line
from lrsweep.data.dataset import Dataset
from lrsweep.data.fingerprint import data_fingerprint
from lrsweep.data.load import data_file, load_dataset
from lrsweep.data.read import NA_VALUES, OnLoadProgress, Table, read_header, read_table
from lrsweep.data.split import batch_indices, standardize, subsample_train

__all__ = [
    "BUILTINS",
    "NA_VALUES",
    "ColumnReport",
    "Dataset",
    "OnLoadProgress",
    "Table",
    "batch_indices",
    "data_file",
    "data_fingerprint",
    "data_summary_line",
    "load_dataset",
    "read_header",
    "read_table",
    "standardize",
    "subsample_train",
]
