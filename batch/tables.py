"""Read one input file of a batch job and score it: the part both batch entry scripts share.

An item of an Azure batch model deployment is a file (run() gets file paths), so a file
is scored whole or not at all: any row that cannot be scored fails its file, with an
error naming the file, the line (CSV) or row (Parquet) and the column. Part of the
batch/ code asset; imports only numpy, pandas and pyarrow.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from model_loader import Feature, LoadedModel

ID_COLUMNS_ENV = "AMLOPS_ID_COLUMNS"
"""Comma-separated input columns to carry into the output; set by the deployment (amlops:batch.idColumns)."""
PREDICTION = "prediction"
INT64_MAX = 2**63 - 1
# Quoted fields may hold line breaks.
_PARSE = pacsv.ParseOptions(newlines_in_values=True)
_NO_HEADER = pacsv.WriteOptions(include_header=False, quoting_style="needed")
_WITH_HEADER = pacsv.WriteOptions(include_header=True, quoting_style="needed")


class InputFileError(ValueError):
    """An input file cannot be read or holds a row the model cannot score."""


def id_columns() -> tuple[str, ...]:
    """The id columns the deployment asks for (none: whole input rows are carried)."""
    raw = os.environ.get(ID_COLUMNS_ENV, "")
    return tuple(c.strip() for c in raw.split(",") if c.strip())


def _read_csv(path: Path, text: tuple[str, ...] | None) -> pa.Table:
    """The CSV as one block; `text` columns (all when None) are read as strings, keeping their exact spelling."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        names = next(csv.reader(fh), None)  # the csv module ends lines at \n, \r\n or a lone \r
    if not names or not any(n.strip() for n in names):
        raise InputFileError(f"{path}: line 1: empty; a CSV needs a header line naming its columns")
    keep = names if text is None else [n for n in names if n in text]
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in keep}, strings_can_be_null=False)
    # one block: column types are inferred from the whole file, never from its first megabyte only
    read = pacsv.ReadOptions(block_size=max(path.stat().st_size + 1, 1 << 16), use_threads=False)
    try:
        return pacsv.read_csv(path, read_options=read, parse_options=_PARSE, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputFileError(f"{path}: {_arrow_message(path, str(exc))}") from None


def _arrow_message(path: Path, text: str) -> str:
    text = text.removeprefix("CSV parse error: ").strip()
    if text.startswith("Row #"):
        number, _, rest = text[len("Row #"):].partition(": ")
        if number.isdigit():
            return f"line {csv_line_of(path, int(number) - 2)}: {rest.strip()}"
    return text


def read_table(path: str | os.PathLike, text: tuple[str, ...] | None = None) -> pa.Table:
    """A CSV or Parquet file as an Arrow table; CSV columns in `text` (all when None) stay strings as spelled.
    Raises InputFileError naming the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, text)
    if suffix == ".parquet":
        try:
            return pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise InputFileError(f"{path}: not a readable Parquet file: {exc}") from None
    raise InputFileError(f"{path}: not a .csv or .parquet file")


def csv_line_of(path: Path, record: int) -> int:
    """The 1-based line on which data record `record` (0-based, after the header) starts, counting blank lines,
    CR-only line ends and line breaks inside quoted fields as a reader of the file sees them."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        start = reader.line_num + 1
        index = 0
        for row in reader:
            if row:  # pyarrow skips empty lines: they are not records
                if index == record:
                    return start
                index += 1
            start = reader.line_num + 1
    return start


def _where(path: Path, position: int) -> str:
    if path.suffix.lower() == ".csv":
        return f"line {csv_line_of(path, position)}"
    return f"row {position + 1}"


def _numbers(col: pa.ChunkedArray) -> np.ndarray:
    """A column as float64, with NaN where a value is missing or not a number."""
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return pd.to_numeric(col.to_pandas(), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_null(col.type):
        return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    return np.full(len(col), np.nan)  # booleans, dates, …: not numbers


def features(table: pa.Table, wanted: tuple[Feature, ...], path: Path) -> pd.DataFrame:
    """The model's columns, in its order and types; the first bad value raises InputFileError naming where."""
    missing = [f.name for f in wanted if f.name not in table.column_names]
    if missing:
        raise InputFileError(
            f"{path}: lacks column(s) {', '.join(missing)}; the model reads {', '.join(f.name for f in wanted)}"
        )
    out = {}
    for f in wanted:
        col = table.column(f.name)
        if f.numeric:
            array = _numbers(col)
            bad = ~np.isfinite(array)
            if f.integer:
                bad |= ~bad & ((np.mod(array, 1, where=~bad, out=np.zeros(len(array))) != 0) | (np.abs(array) > INT64_MAX))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                kind = "a whole number" if f.integer else "a number"
                shown = col[i].as_py()
                raise InputFileError(
                    f"{path}: {_where(path, i)}: column {f.name} must be {kind}, got {str(shown if shown is not None else 'nan')[:40]!r} "
                    f"({int(bad.sum())} such row(s) in the file)"
                )
            out[f.name] = array.astype("int64") if f.integer else array
        else:
            nulls = pc.is_null(col).to_numpy(zero_copy_only=False)
            if nulls.any():
                raise InputFileError(f"{path}: {_where(path, int(np.flatnonzero(nulls)[0]))}: column {f.name} is empty")
            out[f.name] = col.to_pandas().astype(str)
    return pd.DataFrame(out)


def score(model: LoadedModel, path: str | os.PathLike) -> pa.Table:
    """One file's output rows: the id columns (or the whole input row) and `prediction`, in the input's order."""
    path = Path(path)
    ids = id_columns()
    table = read_table(path, ids or None)  # carried columns keep their exact text
    absent = [c for c in ids if c not in table.column_names]
    if absent:
        raise InputFileError(f"{path}: lacks id column(s) {', '.join(absent)} (amlops:batch.idColumns)")
    x = features(table, model.features, path)
    kept = table.select(list(ids)) if ids else table
    if not table.num_rows:
        return kept.append_column(PREDICTION, pa.array([], type=pa.int64()))
    predicted = model.estimator.predict(x)  # type: ignore[attr-defined]
    return kept.append_column(PREDICTION, pa.array(np.asarray(predicted)))


def csv_bytes(table: pa.Table, header: bool) -> bytes:
    """The rows as CSV (quoted where needed), with or without the header line."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=_WITH_HEADER if header else _NO_HEADER)
    return sink.getvalue().to_pybytes()
