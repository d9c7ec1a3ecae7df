"""What a data file holds, decided by its content: the compression and the format.

A file is recognised by its first bytes (its magic number), not by its name, so a gzip file
named ``.csv`` or a CSV named ``.xlsx`` are read as what they are:

=========================  ===============================================================
first bytes                what
=========================  ===============================================================
``1f 8b``                  gzip (``.gz``)
``BZh``                    bzip2 (``.bz2``)
``fd 37 7a 58 5a 00``      xz (``.xz``)
``28 b5 2f fd``            Zstandard (``.zst``; needs the ``zstandard`` package)
``PK 03 04``               a zip archive: a spreadsheet (``.xlsx``/``.xlsm``/``.xlsb`` hold
                           ``xl/workbook.*``, ``.ods`` a ``mimetype`` saying so) or an archive
                           of tables (one is read; with several, ``data.member`` names it)
``d0 cf 11 e0 a1 b1 1a e1``  an OLE2 compound file: a ``.xls`` workbook
``PAR1``                   Parquet
``ARROW1`` / ``FEA1``      Feather (Arrow IPC file), version 2 / 1
``ff ff ff ff``            an Arrow IPC stream (``.arrows``)
``SQLite format 3\\0``      a SQLite database
``{`` or ``[{`` (text)     JSON Lines (one object per line) or a JSON array of records
other text                 a delimited table (CSV, TSV, ``;`` or ``|``)
=========================  ===============================================================

A compressed file holds one of the other formats (a ``.csv.gz``, a ``.jsonl.zst``, a zip of a
Parquet file); a tar archive inside one is refused with the way out. Text formats are read as
a stream of the decompressed bytes; the others need random access and are decompressed to
memory (SQLite: to a temporary file) first.

The fingerprint
    :func:`data_fingerprint` gives the facts that identify a spec's data: for a file its
    resolved path, size, modification time (ns) and the SHA-256 of its bytes as stored (the
    compressed bytes of a compressed file, the whole archive or workbook or database, whatever
    member, sheet or table is read: those are spec keys), with the detected format; for a
    builtin its parameters. Two files are the same data when their SHA-256 is the same; size and
    time only say what changed. A table streamed by :func:`lrsweep.data.read_table` is hashed as
    it is read, so fingerprinting it afterwards does not read it again.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from lrsweep.errors import DataError, shorten

if TYPE_CHECKING:
    pass

__all__ = [
    "BUILTIN_VERSION",
    "COMPRESSIONS",
    "FORMATS",
    "Source",
    "detect_source",
]

COMPRESSIONS = {  # magic -> name
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"PK\x03\x04": "zip",
    b"PK\x05\x06": "zip",  # an empty archive
}
FORMATS = ("csv", "json", "parquet", "feather", "arrow_stream", "excel", "sqlite")
EXCEL_KINDS = ("xlsx", "xlsb", "xls", "ods")
SUFFIX = {"gzip": "gz", "bz2": "bz2", "xz": "xz", "zstd": "zst", "zip": "zip"}
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SQLITE = b"SQLite format 3\x00"
ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet", ".pq", ".feather", ".arrow", ".arrows",
                  ".jsonl", ".ndjson", ".json", ".sqlite", ".sqlite3", ".db")  # fmt: skip
HEAD_BYTES = 512  # enough for every magic number, and a tar header's "ustar" at 257
HASH_CHUNK = 1 << 20
BUILTIN_VERSION = 1  # bump when a builtin's generator changes what a parameter set draws
ZSTD_INSTALL = "pip install 'lrsweep[zstd]'"


@dataclass(frozen=True)
class Source:
    """A data file and what it holds: ``format`` inside ``compression`` (``None``: plain).

    ``name`` is what messages call it: the path, or ``archive.zip/member.csv``. ``kind`` is the
    spreadsheet's kind (``xlsx``, ``xlsb``, ``xls``, ``ods``) for ``format == "excel"``.
    """

    path: Path
    format: str  # one of FORMATS
    compression: str | None = None  # one of COMPRESSIONS' names
    member: str | None = None  # the zip member read
    kind: str = ""  # excel: xlsx | xlsb | xls | ods
    notes: tuple[str, ...] = ()  # what was decided: the member chosen among several files

    @property
    def name(self) -> str:
        return f"{self.path}/{self.member}" if self.member else str(self.path)

    @property
    def label(self) -> str:
        """The format as a person calls it: ``csv``, ``csv.gz``, ``xlsx``, ``parquet in zip``."""
        inner = self.kind or self.format
        if self.compression is None:
            return inner
        if self.compression == "zip":
            return f"{inner} in zip"
        return f"{inner}.{SUFFIX[self.compression]}"

    @contextmanager
    def open(self, on_read: Callable[[bytes], None] | None = None) -> Iterator[BinaryIO]:
        """The content's bytes from the start, decompressed; ``on_read`` sees every chunk of
        the file as stored (for hashing and progress), before it is decompressed."""
        with open(self.path, "rb") as raw:
            stored: Any = raw if on_read is None else _Tap(raw, on_read)
            if self.compression is None:
                yield stored
            elif self.compression == "zip":
                with zipfile.ZipFile(stored) as archive, archive.open(str(self.member)) as f:
                    yield f  # type: ignore[misc]
            else:
                with _decompressing(self.compression, stored, self.path) as f:
                    yield f

    @contextmanager
    def local(self) -> Iterator[Path | io.BytesIO]:
        """The content as something a reader that needs random access can take: the file
        itself when it is not compressed, else its decompressed bytes in memory."""
        if self.compression is None:
            yield self.path
            return
        with self.open() as f, damage_is_an_error(self):
            yield io.BytesIO(f.read())


class _Tap:
    """A binary file whose reads are also passed to ``on_read``."""

    def __init__(self, raw: Any, on_read: Callable[[bytes], None]) -> None:
        self.raw, self.on_read = raw, on_read

    def read(self, n: int = -1) -> bytes:
        chunk = self.raw.read(n)
        self.on_read(chunk)
        return chunk

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        self.on_read(bytes(memoryview(buffer)[:n]))
        return n

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self.raw.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        before = self.raw.tell()
        at = self.raw.seek(offset, whence)
        if at != before and hasattr(self.on_read, "spoil"):
            self.on_read.spoil()  # the bytes seen are no longer the file in order
        return at

    def tell(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return self.raw.closed


@contextmanager
def _decompressing(compression: str, stored: Any, path: Path) -> Iterator[BinaryIO]:
    if compression == "gzip":
        with gzip.GzipFile(fileobj=stored, mode="rb") as f:
            yield f  # type: ignore[misc]
    elif compression == "bz2":
        with bz2.BZ2File(stored, mode="rb") as f:
            yield f  # type: ignore[misc]
    elif compression == "xz":
        with lzma.LZMAFile(stored, mode="rb") as f:
            yield f  # type: ignore[misc]
    else:
        zstandard = _zstandard(path)
        with zstandard.ZstdDecompressor().stream_reader(stored, read_across_frames=True) as f:
            yield f


def _zstandard(path: Path) -> Any:
    try:
        import zstandard
    except ImportError:
        raise DataError(
            f"{path}: Zstandard-compressed; reading it needs the zstandard package; install it"
            f" with: {ZSTD_INSTALL}"
        ) from None
    return zstandard


DAMAGE: tuple[type[BaseException], ...] = (
    EOFError,
    OSError,  # gzip.BadGzipFile and bz2's "Invalid data stream" are OSErrors
    lzma.LZMAError,
    zipfile.BadZipFile,
)


@contextmanager
def damage_is_an_error(source: Source) -> Iterator[None]:
    """Damaged compressed data (a truncated download, a bad checksum) as one DataError."""
    if source.compression is None:
        yield
        return
    try:
        yield
    except DataError:
        raise
    except DAMAGE as e:
        raise DataError(
            f"{source.name}: damaged {source.compression} data: {shorten(str(e) or type(e))}"
        ) from None
    except Exception as e:  # zlib.error, zstandard.ZstdError: types from C modules
        if type(e).__name__ in ("error", "ZstdError"):
            raise DataError(
                f"{source.name}: damaged {source.compression} data: {shorten(str(e))}"
            ) from None
        raise


def detect_source(path: Path, member: str | None = None) -> Source:
    """What the file at ``path`` holds, from its first bytes (see the module docstring).

    ``member`` names the table inside a zip archive of several.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    compression = next((c for magic, c in COMPRESSIONS.items() if head.startswith(magic)), None)
    if compression == "zip":
        return _zip_source(path, member)
    if member is not None:
        raise DataError(
            f"{path}: data.member: only for a zip archive of tables, got"
            f" {member!r} for a {compression or _format_of(head, path)[0]} file"
        )
    if compression is None:
        fmt, kind = _format_of(head, path)
        return Source(path, fmt, kind=kind)
    source = Source(path, "csv", compression)
    with source.open() as f, damage_is_an_error(source):
        inner = f.read(HEAD_BYTES)
    fmt, kind = _inner_format(inner, source)
    return Source(path, fmt, compression, kind=kind)


def _inner_format(head: bytes, source: Source) -> tuple[str, str]:
    nested = next((c for magic, c in COMPRESSIONS.items() if head.startswith(magic)), None)
    if nested is not None:
        raise DataError(
            f"{source.name}: {nested} data inside {source.compression}: decompress the outer"
            " layer first; lrsweep reads one table, compressed once"
        )
    fmt, kind = _format_of(head, source.path)
    if fmt == "excel" and kind != "xls":  # xlsx/ods are zips themselves: caught above
        raise DataError(f"{source.name}: a spreadsheet inside {source.compression}")
    return fmt, kind


def _format_of(head: bytes, path: Path) -> tuple[str, str]:
    """``(format, spreadsheet kind)`` of uncompressed content from its first bytes."""
    if head.startswith(b"PAR1"):
        return "parquet", ""
    if head.startswith((b"ARROW1", b"FEA1")):
        return "feather", ""
    if head.startswith(b"\xff\xff\xff\xff"):
        return "arrow_stream", ""
    if head.startswith(SQLITE):
        return "sqlite", ""
    if head.startswith(OLE2):
        return "excel", "xls"
    if head[257:262] == b"ustar":
        raise DataError(
            f"{path}: a tar archive; lrsweep reads one table: extract it (tar -xf) and give"
            " the table's path, or pack the table alone as .gz or .zip"
        )
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"{") and text[1:].lstrip()[:1] in (b'"', b"}", b""):
        return "json", ""
    if text.startswith(b"[") and text[1:].lstrip()[:1] in (b"{", b"]", b""):
        return "json", ""
    return "csv", ""


def _zip_source(path: Path, member: str | None) -> Source:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
                kind = "xlsb" if "xl/workbook.bin" in names else "xlsx"
                return _no_member(Source(path, "excel", kind=kind), member)
            if "mimetype" in names and archive.read("mimetype").strip() == ODS_MIME:
                return _no_member(Source(path, "excel", kind="ods"), member)
            files = [n for n in names if _is_table_member(n)]
            chosen, note = _choose_member(path, files, member)
            with archive.open(chosen) as f:
                head = f.read(HEAD_BYTES)
    except zipfile.BadZipFile as e:
        raise DataError(f"{path}: damaged zip archive: {shorten(str(e))}") from None
    except RuntimeError as e:  # an encrypted member
        raise DataError(f"{path}: cannot read the zip member: {shorten(str(e))}") from None
    source = Source(path, "csv", "zip", chosen)
    if head.startswith(b"PK\x03\x04"):
        raise DataError(f"{source.name}: a zip inside a zip: extract the inner archive first")
    fmt, kind = _inner_format(head, source)
    return Source(path, fmt, "zip", chosen, kind, (note,) if note else ())


def _no_member(source: Source, member: str | None) -> Source:
    if member is not None:
        raise DataError(
            f"{source.path}: data.member: only for a zip archive of tables, got {member!r} for"
            f" a {source.kind} workbook (choose a sheet with data.sheet)"
        )
    return source


def _is_table_member(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return bool(base) and not base.startswith(".") and not name.startswith("__MACOSX/")


def _choose_member(path: Path, files: list[str], member: str | None) -> tuple[str, str]:
    """The member to read, and a note when it was picked among other files: with no
    ``member``, the only file, or the only one named like a table (a README beside it)."""
    if member is not None:
        if member in files:
            return member, ""
        by_base = [n for n in files if n.rsplit("/", 1)[-1] == member]
        if len(by_base) == 1:
            return by_base[0], ""
        raise DataError(
            f"{path}: data.member: no file {member!r} in the archive; it holds {_listed(files)}"
        )
    if not files:
        raise DataError(f"{path}: an empty zip archive, expected one table in it")
    if len(files) == 1:
        return files[0], ""
    tables = [n for n in files if _plain_name(n).endswith(TABLE_SUFFIXES)]
    if len(tables) == 1:
        others = [n for n in files if n != tables[0]]
        return tables[0], (
            f"read {tables[0]!r}, the one table of the archive's {len(files)} files (besides"
            f" {_listed(others, 3)}); data.member chooses another"
        )
    several = tables or files
    raise DataError(
        f"{path}: a zip archive of {len(several)} tables ({_listed(several)}); name the one to"
        f" read with data.member (init --member), e.g. {several[0]}"
    )


def _plain_name(name: str) -> str:
    """A member's name without a compression suffix, lower case: ``x.csv.gz`` -> ``x.csv``."""
    low = name.lower()
    for suffix in SUFFIX.values():
        low = low.removesuffix(f".{suffix}")
    return low


def _listed(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# --------------------------------------------------------------------------------------------
# the fingerprint

_DIGESTS: dict[tuple[int, int, int, int], str] = {}  # (dev, inode, size, mtime_ns) -> sha256


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Hasher:
    """The SHA-256 of a file's bytes as a reader streams them; :meth:`done` records it for
    :func:`data_fingerprint` when the whole file was read and did not change meanwhile."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.before = _stat_key(os.stat(path))
        self.sha = hashlib.sha256()
        self.n = 0
        self.spoilt = False

    def __call__(self, chunk: bytes) -> None:
        self.sha.update(chunk)
        self.n += len(chunk)

    def spoil(self) -> None:
        self.spoilt = True

    def done(self) -> None:
        after = _stat_key(os.stat(self.path))
        if not self.spoilt and after == self.before and self.n == after[2]:
            _DIGESTS[after] = self.sha.hexdigest()


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file's bytes (remembered for an unchanged file)."""
    st = os.stat(path)
    key = _stat_key(st)
    known = _DIGESTS.get(key)
    if known is not None:
        return known
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            sha.update(chunk)
    if _stat_key(os.stat(path)) == key:
        _DIGESTS[key] = sha.hexdigest()
    return sha.hexdigest()
