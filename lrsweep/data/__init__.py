"""Data: tables from files or built-in generators, column roles and encodings, the split,
standardisation and the mini-batch order.

One module per step, each importing only those before it: :mod:`.sources` (what a file
holds, by its content), :mod:`.read` (CSV and TSV) and :mod:`.formats` (Parquet, Feather,
JSON, spreadsheets, SQLite), :mod:`.tables` (either, by what the file holds), :mod:`.columns`
(with :mod:`.dates`), :mod:`.split`, :mod:`.builtins`, with :func:`load_dataset` and
:func:`data_fingerprint` (in :mod:`.load`) on top. Library code only: nothing here
prints; notes and warnings are returned as data on the :class:`Dataset`.
"""

from __future__ import annotations

from lrsweep.data.builtins import BUILTINS
from lrsweep.data.columns import ColumnReport, data_summary_line
from lrsweep.data.dataset import Dataset
from lrsweep.data.load import data_file, data_fingerprint, load_dataset
from lrsweep.data.read import NA_VALUES, OnLoadProgress, Table
from lrsweep.data.sources import detect_source
from lrsweep.data.split import batch_indices, standardize, subsample_train
from lrsweep.data.tables import read_header, read_table

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
