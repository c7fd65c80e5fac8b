"""Split the input into mini-batches, Azure's way: by bytes within one CSV or Parquet file, or by file count.

The planner never loads a whole file: it streams each CSV once to find line boundaries
(workers then read their own byte range) and reads only Parquet metadata. Every file's
header or footer is checked before any work starts, so a malformed file fails fast.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from amlops.errors import DataError, UsageError

TABULAR_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True, slots=True)
class MiniBatch:
    """One unit of work sent to run(): a byte range of a CSV, a row range of Parquet, or some files."""

    id: int
    kind: str
    """csv, parquet or files."""
    path: str = ""
    items: int = 0
    """Rows (tabular) or files, as planned; a worker reports the rows it actually parsed."""
    weight: int = 0
    """Its share of the input's bytes (files: 1 per file), for the progress bar."""
    columns: tuple[str, ...] = ()
    offset: int = 0
    length: int = 0
    first_line: int = 0
    """CSV: the 1-based line number of its first row (the header is line 1)."""
    row_group: int = 0
    start: int = 0
    stop: int = 0
    paths: tuple[str, ...] = field(default=())

    def where(self) -> str:
        """Where its items come from, for reports: `in.csv lines 2-81147`."""
        if self.kind == "csv":
            return f"{self.path} lines {self.first_line}-{self.first_line + max(self.items, 1) - 1}"
        if self.kind == "parquet":
            return f"{self.path} row group {self.row_group} rows {self.start}-{self.stop - 1}"
        first = self.paths[0] if self.paths else ""
        return first if len(self.paths) == 1 else f"{len(self.paths)} files from {first}"

    def locate(self, position: int) -> str:
        """The item at `position` within the mini-batch, as a user finds it: `line 17`, `row 905`, a path."""
        if self.kind == "csv":
            return f"line {self.first_line + position}"
        if self.kind == "parquet":
            return f"row {self.start + position}"
        return self.paths[position]


@dataclass(frozen=True)
class Plan:
    """The input's files (checked), its total weight, and a lazy stream of mini-batches."""

    files: tuple[Path, ...]
    total_weight: int
    mini_batches: Iterator[MiniBatch]


def input_files(path: Path, mode: str) -> list[Path]:
    """The files to process: `path` itself, or every non-hidden file below the folder, sorted."""
    if not path.exists():
        raise UsageError(f"input {path} does not exist; pass a CSV or Parquet file or a folder of them with --input")
    if path.is_file():
        files = [path]
    else:
        files = sorted(
            p for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            raise DataError(f"input folder {path} holds no files")
    if mode == "tabular":
        other = [p for p in files if p.suffix.lower() not in TABULAR_SUFFIXES]
        if other:
            names = ", ".join(str(p) for p in other[:5]) + (" …" if len(other) > 5 else "")
            raise DataError(
                f"{names}: not a CSV or Parquet file; tabular input takes .csv and .parquet files "
                "(use --mode files to hand whole files to the entry script)"
            )
    return files


def csv_header(path: Path) -> tuple[tuple[str, ...], int]:
    """The column names of a CSV and the byte offset of its first data line."""
    with path.open("rb") as fh:
        line = fh.readline()
        offset = fh.tell()
    if not line.strip():
        raise DataError(f"{path}: line 1: empty; a CSV needs a header line naming its columns")
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: line 1: not UTF-8 text ({exc.reason} at byte {exc.start}); is it a CSV file?") from None
    names = tuple(next(csv.reader(io.StringIO(text))))
    blank = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if blank:
        raise DataError(f"{path}: line 1: column {blank[0]} of the header has no name")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"{path}: line 1: duplicate column name(s) {', '.join(dupes)}")
    return names, offset


def _csv_batches(path: Path, size: int, columns: tuple[str, ...], offset: int, next_id: Iterator[int]) -> Iterator[MiniBatch]:
    """Byte ranges of about `size` bytes that end on a line boundary; lines counted on the way."""
    line = 2
    with path.open("rb") as fh:
        fh.seek(offset)
        while True:
            chunk = fh.read(size)
            if not chunk:
                return
            if not chunk.endswith(b"\n"):
                chunk += fh.readline()
            lines = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
            if chunk.strip():
                yield MiniBatch(
                    id=next(next_id), kind="csv", path=str(path), items=lines, weight=len(chunk),
                    columns=columns, offset=offset, length=len(chunk), first_line=line,
                )
            offset += len(chunk)
            line += lines


def parquet_layout(path: Path):
    """The Parquet file's metadata; raises DataError naming the file when it is not Parquet."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError with its own wording
        raise DataError(f"{path}: not a readable Parquet file: {exc}") from None


def _row_bytes(group, schema) -> int:
    """Bytes one row takes in memory: fixed-width columns by their type (Parquet's own sizes are
    after dictionary encoding, which makes repetitive data look tiny), others by their raw size."""
    rows = max(group.num_rows, 1)
    width = 0
    for i, field in enumerate(schema):
        try:
            width += max(field.type.bit_width // 8, 1)
        except ValueError:  # variable width (strings, lists)
            width += group.column(i).total_uncompressed_size // rows + 1
    return max(width, 1)


def _parquet_batches(path: Path, size: int, meta, file_bytes: int, next_id: Iterator[int]) -> Iterator[MiniBatch]:
    """Row ranges within one row group holding about `size` bytes (in memory) each."""
    schema = meta.schema.to_arrow_schema()
    columns = tuple(schema.names)
    total_rows = max(meta.num_rows, 1)
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        rows = group.num_rows
        per_batch = max(1, size // _row_bytes(group, schema))
        for start in range(0, rows, per_batch):
            stop = min(rows, start + per_batch)
            yield MiniBatch(
                id=next(next_id), kind="parquet", path=str(path), items=stop - start,
                weight=file_bytes * (stop - start) // total_rows, columns=columns,
                row_group=rg, start=start, stop=stop,
            )


def plan(path: Path, mode: str, size: int) -> Plan:
    """Check every input file, then stream mini-batches of `size` bytes (tabular) or files (files mode)."""
    files = input_files(path, mode)
    ids = iter(range(1_000_000_000))
    if mode == "files":
        def by_count() -> Iterator[MiniBatch]:
            for i in range(0, len(files), size):
                group = tuple(str(p) for p in files[i:i + size])
                yield MiniBatch(id=next(ids), kind="files", items=len(group), weight=len(group), paths=group)

        return Plan(tuple(files), len(files), by_count())
    checked = []
    for f in files:
        if f.suffix.lower() == ".csv":
            checked.append((f, "csv", csv_header(f)))
        else:
            checked.append((f, "parquet", parquet_layout(f)))
    sizes = {f: f.stat().st_size for f in files}

    def by_bytes() -> Iterator[MiniBatch]:
        for f, kind, info in checked:
            if kind == "csv":
                columns, offset = info
                yield from _csv_batches(f, size, columns, offset, ids)
            else:
                yield from _parquet_batches(f, size, info, sizes[f], ids)

    return Plan(tuple(files), sum(sizes.values()), by_bytes())
