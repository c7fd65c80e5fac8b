"""`amlops batch split`: turn one large table into part files, the unit an Azure batch model deployment distributes.

A batch model deployment hands run() whole files and counts miniBatchSize in files, so a
single 50 MB CSV would be one item on one node; part files of about `part_size` bytes
give it something to spread. CSV is parsed, not cut at byte offsets, so a quoted field
that holds a line break stays in its record; every value keeps its exact text (all
columns are read as strings) and every part repeats the header. Parquet is re-chunked
by rows. The parts appear together or not at all.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from amlops.errors import DataError, UsageError

_PARSE = pacsv.ParseOptions(newlines_in_values=True)
_WRITE = pacsv.WriteOptions(include_header=True, quoting_style="needed")


@dataclass(frozen=True)
class SplitResult:
    """The parts written and the rows they hold."""

    folder: Path
    parts: tuple[Path, ...]
    rows: int


def _csv_names(path: Path) -> list[str]:
    import csv

    with path.open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise DataError(f"{path}: line 1: empty; a CSV needs a header line naming its columns")
    return header


def _csv_batches(path: Path, part_size: int):
    names = _csv_names(path)
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False)
    read = pacsv.ReadOptions(block_size=part_size, use_threads=False)
    try:
        reader = pacsv.open_csv(path, read_options=read, parse_options=_PARSE, convert_options=convert)
        for batch in reader:
            yield batch
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"{path}: {str(exc).removeprefix('CSV parse error: ')}") from None


def _parquet_batches(path: Path, part_size: int):
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet file: {exc}") from None
    rows = max(pf.metadata.num_rows, 1)
    size = sum(pf.metadata.row_group(i).total_byte_size for i in range(pf.metadata.num_row_groups))
    per_part = max(1, part_size * rows // max(size, 1))
    yield from pf.iter_batches(batch_size=per_part)


def split(source: Path, out_dir: Path, part_size: int, overwrite: bool = False) -> SplitResult:
    """Write `source` (CSV or Parquet) as part files of about `part_size` bytes into `out_dir`."""
    if not source.is_file():
        raise UsageError(f"{source} is not a file; pass the CSV or Parquet table to split")
    suffix = source.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(f"{source}: not a .csv or .parquet file")
    if part_size < 1024:
        raise UsageError(f"--part-size must be at least 1KB, got {part_size} bytes")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise UsageError(f"{out_dir} is not empty; pass another --out or add --overwrite")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        parts, rows = [], 0
        batches = _csv_batches(source, part_size) if suffix == ".csv" else _parquet_batches(source, part_size)
        for batch in batches:
            if not batch.num_rows:
                continue
            part = staging / f"part-{len(parts):05d}{suffix}"
            if suffix == ".csv":
                pacsv.write_csv(batch, part, write_options=_WRITE)
            else:
                import pyarrow.parquet as pq

                pq.write_table(pa.Table.from_batches([batch]), part)
            parts.append(part)
            rows += batch.num_rows
        if not parts:
            raise DataError(f"{source}: holds no rows to split")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return SplitResult(out_dir, tuple(out_dir / p.name for p in parts), rows)
