"""Turn a planned mini-batch into what run() receives: a pandas DataFrame, or a list of file paths.

Runs inside a worker. A CSV mini-batch is one byte range parsed by pyarrow as a single
block (so column types are inferred once per mini-batch); a parse error names the file
and the line.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from amlops.batching.planner import MiniBatch
from amlops.errors import DataError

_ROW = re.compile(r"Row #(\d+): (.*)", re.S)


class InputError(DataError):
    """A mini-batch's input cannot be parsed; retrying would fail the same way."""


def read(mb: MiniBatch) -> pd.DataFrame | list[str]:
    """The mini-batch as run() gets it."""
    if mb.kind == "files":
        return list(mb.paths)
    if mb.kind == "csv":
        return _read_csv(mb)
    return _read_parquet(mb)


def _read_csv(mb: MiniBatch) -> pd.DataFrame:
    with open(mb.path, "rb") as fh:
        fh.seek(mb.offset)
        data = fh.read(mb.length)
    options = pacsv.ReadOptions(column_names=list(mb.columns), use_threads=False, block_size=len(data) + 1)
    try:
        table = pacsv.read_csv(pa.py_buffer(data), read_options=options)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(_csv_message(mb, str(exc))) from None
    return table.to_pandas()


def _csv_message(mb: MiniBatch, text: str) -> str:
    text = text.removeprefix("CSV parse error: ").strip()
    m = _ROW.match(text)
    if m:
        return f"{mb.path}: line {mb.first_line + int(m.group(1)) - 1}: {m.group(2).strip()}"
    return f"{mb.path}: {mb.where().removeprefix(mb.path + ' ')}: {text}"


@lru_cache(maxsize=4)
def _parquet_file(path: str):
    import pyarrow.parquet as pq  # only Parquet input pays for it

    return pq.ParquetFile(path)


@lru_cache(maxsize=2)
def _row_group(path: str, row_group: int) -> pa.Table:
    return _parquet_file(path).read_row_group(row_group)


def _read_parquet(mb: MiniBatch) -> pd.DataFrame:
    try:
        table = _row_group(mb.path, mb.row_group)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{mb.path}: row group {mb.row_group}: {exc}") from None
    return table.slice(mb.start, mb.stop - mb.start).to_pandas()
