"""Data: tables from files or built-in generators, column roles and encodings, the split,
standardisation and the mini-batch order.

One module per step: :mod:`.sources` (what a file holds, by its content; its fingerprint),
:mod:`.read` (CSV and TSV) and :mod:`.formats` (Parquet, Feather, JSON, spreadsheets, SQLite),
:mod:`.columns` (with :mod:`.dates`), :mod:`.split`, :mod:`.builtins`, with
:func:`load_dataset` (in :mod:`.load`) running them in order. Library code only: nothing here
prints; notes and warnings are returned as data on the :class:`Dataset`.
"""

from __future__ import annotations

from lrsweep.data.builtins import BUILTINS
from lrsweep.data.columns import ColumnReport, data_summary_line
from lrsweep.data.dataset import Dataset
from lrsweep.data.load import data_file, load_dataset
from lrsweep.data.read import NA_VALUES, OnLoadProgress, Table, read_header, read_table
from lrsweep.data.sources import data_fingerprint, detect_source
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
    "detect_source",
    "load_dataset",
    "read_header",
    "read_table",
    "standardize",
    "subsample_train",
]
