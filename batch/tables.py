"""Read one input file of a batch job, check its rows against the model's signature, and score it.

The part both batch entry scripts share, and the one rule `amlops batch split` applies when it
sets bad rows aside (it loads this file, so the split and the scripts cannot disagree).
An item of an Azure batch model deployment is a file (run() gets file paths), so the scripts
score a file whole or not at all: a row that cannot be scored fails its file, with an error
naming the file, the line (CSV, as an editor counts lines) or row (Parquet) and the column.
Values reach the model as pandas reads them with the signature's dtypes: integers exactly as
int64 (parsed from the text, never through float64), floats as float64; a value outside int64,
an empty cell, a non-finite number is refused and named. Part of the batch/ code asset; imports
only numpy, pandas and pyarrow.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

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
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SHOWN = 40
"""At most this many characters of a bad value are quoted in a message."""
HEADER_BYTES = 1 << 16
"""How much of a CSV is decoded first to read its header line."""
# Quoted fields may hold line breaks.
PARSE = pacsv.ParseOptions(newlines_in_values=True)
_QUOTED = {header: pacsv.WriteOptions(include_header=header, quoting_style="needed") for header in (False, True)}
_PLAIN = {header: pacsv.WriteOptions(include_header=header, quoting_style="none") for header in (False, True)}


class InputFileError(ValueError):
    """An input file cannot be read or holds a row the model cannot score."""


@dataclass(frozen=True)
class BadRow:
    """A row the model cannot score: its 0-based position among the table's records, the first bad column, why."""

    record: int
    column: str
    reason: str


def id_columns() -> tuple[str, ...]:
    """The id columns the deployment asks for (none: whole input rows are carried)."""
    raw = os.environ.get(ID_COLUMNS_ENV, "")
    return tuple(c.strip() for c in raw.split(",") if c.strip())


# --- reading ----------------------------------------------------------------------------------------


def line_count(data: bytes) -> tuple[int, int]:
    """(the 1-based line the end of `data` is on, the line ends in it), counting \n, \r\n and a lone \r."""
    ends = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return 1 + ends, ends


def encoding_error(path: Path, line: int, byte: int, value: int, hint: str) -> str:
    """The one wording for a CSV that is not UTF-8 (the split and the entry scripts both use it)."""
    return f"{path}: line {line}, byte {byte}: 0x{value:02x} is not UTF-8; {hint}"


ENCODING_HINT = "convert the file to UTF-8, or cut it with `amlops batch split --encoding ENCODING` (e.g. latin-1)"
"""What to do about a non-UTF-8 CSV: the scripts read UTF-8 (what pyarrow reads), as Azure runs them."""


def not_utf8(path: Path, data: bytes) -> str | None:
    """Where `data` stops being UTF-8, as one line naming the file, line and byte; None when it is UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return encoding_error(path, line_count(data[:exc.start])[0], exc.start + 1, data[exc.start], ENCODING_HINT)
    return None


def header(path: Path, data: bytes) -> list[str]:
    """The CSV's header names; InputFileError when it has none.

    Read from the file's first bytes, more of them only while the header record may not have ended
    there (no record after it yet): the whole file is decoded only for a file that is all header."""
    end, size = len(data), min(len(data), HEADER_BYTES)
    while True:
        reader = csv.reader(text_lines(data[:size]))  # a line ends at \n, \r\n or a lone \r
        names = next(reader, None)
        if size == end or next(reader, None) is not None:
            break
        size = min(end, size * 4)
    if not names or not any(n.strip() for n in names):
        raise InputFileError(f"{path}: line 1: empty; a CSV needs a header line naming its columns")
    return names


def csv_strings(path: Path, data: bytes) -> pa.Table:
    """A CSV's bytes as one table of strings, every value exactly as spelled (types come from the signature)."""
    names = header(path, data)
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False)
    # one block: a record is never cut at a block boundary guess
    read = pacsv.ReadOptions(block_size=max(len(data) + 1, 1 << 16), use_threads=False)
    try:
        return pacsv.read_csv(pa.BufferReader(data), read_options=read, parse_options=PARSE, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputFileError(not_utf8(path, data) or f"{path}: {_arrow_message(data, str(exc))}") from None


def csv_typed(path: Path, data: bytes, wanted: tuple[Feature, ...], carried: tuple[str, ...]) -> pa.Table | None:
    """The carried columns as spelled and the model's numeric columns already as int64 or float64, read
    in one pass, leaving every other column unread: the common case, where every value is a plain number.

    It stands for `csv_strings` and `check` only where it cannot differ from them, so None (read as
    strings) when: nothing is carried (whole rows are, as spelled), a carried column is also a feature,
    the header lacks a column, an integer feature meets 0x or 0X anywhere in the file (Arrow reads
    0x10 as 16, pandas refuses it), or Arrow refuses a value (2.0 as an integer, an empty cell, a
    number out of range). Arrow's number parser is the one `check` casts strings with; where it also
    trims spaces, `check`'s slower path reads the trimmed value too. The caller still checks the
    values (non-finite, beyond a column's limit) and goes back to strings for any bad row, so that
    what a message quotes is the text as spelled."""
    numeric = [f for f in wanted if f.numeric]
    if not carried or not numeric or len(numeric) < len(wanted) or set(carried) & {f.name for f in wanted}:
        return None
    names = header(path, data)
    if not {*carried, *(f.name for f in wanted)} <= set(names) or len(set(names)) < len(names):
        return None
    # The only hex Arrow reads (0x10, 0X1f). The letter is looked for first: a search for "0x" stops at every 0 of
    # a file of numbers, one for a single byte runs at memchr's speed.
    if any(f.integer for f in wanted) and ((b"x" in data and b"0x" in data) or (b"X" in data and b"0X" in data)):
        return None
    types = {c: pa.string() for c in carried}
    types.update({f.name: pa.int64() if f.integer else pa.float64() for f in numeric})
    convert = pacsv.ConvertOptions(column_types=types, include_columns=list(types), strings_can_be_null=False, null_values=[""])
    read = pacsv.ReadOptions(block_size=max(len(data) + 1, 1 << 16), use_threads=False)
    try:
        return pacsv.read_csv(pa.BufferReader(data), read_options=read, parse_options=PARSE, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


def _arrow_message(data: bytes, text: str) -> str:
    text = text.removeprefix("CSV parse error: ").strip()
    if text.startswith("Row #"):
        number, _, rest = text[len("Row #"):].partition(": ")
        if number.isdigit():
            return f"line {lines_of(text_lines(data), [int(number) - 2])[0]}: {rest.strip()}"
    return text


def read_table(path: str | os.PathLike) -> pa.Table:
    """A CSV (every column as strings, as spelled) or Parquet file as an Arrow table.

    Raises InputFileError naming the file (and the line and byte where a CSV is not UTF-8);
    OSError when the file cannot be read at all."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return csv_strings(path, path.read_bytes())
    if suffix == ".parquet":
        try:
            return pq.read_table(path)
        except pa.ArrowException as exc:
            raise InputFileError(f"{path}: not a readable Parquet file: {exc}") from None
    raise InputFileError(f"{path}: not a .csv or .parquet file")


def text_lines(data: bytes) -> Iterator[str]:
    """The bytes as lines for the csv module (line ends kept: \\n, \\r\\n or a lone \\r)."""
    return io.StringIO(data.decode("utf-8-sig", errors="replace"), newline="")


def lines_of(lines: Iterable[str], records: list[int], width: int | None = None,
             misfits: list[tuple[int, int]] | None = None) -> list[int]:
    """The 1-based line on which each data record (0-based, after the header; `records` ascending) starts,
    counting blank lines, lone-CR line ends and line breaks inside quoted fields as an editor does. One pass.

    With `width`, a row of another number of fields is not a record (pyarrow's invalid_row_handler
    skipped it): its (line, fields) goes to `misfits`, and the whole input is read."""
    reader = csv.reader(lines)
    next(reader, None)
    found: list[int] = []
    wanted = iter(records)
    target = next(wanted, None)
    start, index = reader.line_num + 1, 0
    for row in reader:
        if target is None and misfits is None:
            break
        if row:  # empty lines are not records (pyarrow skips them)
            if width is not None and len(row) != width:
                if misfits is not None:
                    misfits.append((start, len(row)))
            else:
                while target == index:
                    found.append(start)
                    target = next(wanted, None)
                index += 1
        start = reader.line_num + 1
    while target is not None:
        found.append(start)
        target = next(wanted, None)
    return found


def where(path: Path, data: bytes | None, records: list[int]) -> list[str]:
    """How messages name records of `path`: `line N` (CSV) or `row N` (Parquet, 1-based)."""
    if path.suffix.lower() == ".csv" and data is not None:
        return [f"line {n}" for n in lines_of(text_lines(data), records)]
    return [f"row {r + 1}" for r in records]


# --- checking and converting ----------------------------------------------------------------------


def _shown(value: object) -> str:
    return repr(str(value)[:SHOWN])


def _reasons(values: list, bad: np.ndarray, integer: bool, limit: float) -> dict[int, str]:
    """Why each flagged value cannot be read, one string per row (the slow path, bad rows only)."""
    kind = "a whole number" if integer else "a number"
    out = {}
    for i in np.flatnonzero(bad):
        v = values[int(i)]
        if v is None or (isinstance(v, str) and not v.strip()):
            out[int(i)] = "is empty"
            continue
        try:
            number = float(v)
        except (TypeError, ValueError):
            out[int(i)] = f"must be {kind}, got {_shown(v)}"
            continue
        if not np.isfinite(number):
            out[int(i)] = f"must be a finite number, got {_shown(v)}"
        elif not integer and abs(number) > limit:
            out[int(i)] = f"must be a number from {-limit:.17g} to {limit:.17g} (what the model takes), got {_shown(v)}"
        elif integer and number != int(number):
            out[int(i)] = f"must be a whole number, got {_shown(v)}"
        else:
            out[int(i)] = f"is outside the int64 range [{INT64_MIN}, {INT64_MAX}], got {_shown(v)}"
    return out


def _exact_int(text: str) -> int | None:
    """A string's integer value when it spells one (as int or as an integral float), else None."""
    s = text.strip()
    if "_" in s or "x" in s.lower():  # Python reads 1_000 and 0x10; pandas does not
        return None
    try:
        return int(s)
    except ValueError:
        pass
    try:
        number = float(s)
    except ValueError:
        return None
    return int(number) if np.isfinite(number) and number == int(number) else None


def _integers(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """An integer feature as exact int64 values and a mask of rows that hold no int64."""
    n = len(col)
    t = col.type
    if pa.types.is_integer(t):
        bad = pc.is_null(col).to_numpy(zero_copy_only=False) if col.null_count else np.zeros(n, bool)  # no bits to unpack
        if t == pa.uint64():
            bad = bad | pc.fill_null(pc.greater(col, pa.scalar(INT64_MAX, t)), False).to_numpy(zero_copy_only=False)
        safe = pc.if_else(pa.array(bad), pa.scalar(0, t), col) if bad.any() else col
        return pc.cast(safe, pa.int64()).to_numpy(zero_copy_only=False), bad
    if pa.types.is_floating(t) or pa.types.is_null(t):
        x = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
        ok = np.isfinite(x)
        ok &= np.where(ok, np.mod(x, 1, where=ok, out=np.zeros(n)) == 0, False)
        ok &= (x >= -(2.0**63)) & (x < 2.0**63)
        return np.where(ok, x, 0).astype("int64"), ~ok
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:  # the fast path: every value spells an int64 in decimal (Arrow would also read 0x10)
            # two plain substring searches: ignore_case goes through a regex, 6x slower
            if not any(pc.any(pc.match_substring(col, x)).as_py() for x in ("x", "X")):
                return pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False), np.zeros(n, bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        values = np.zeros(n, "int64")
        bad = np.zeros(n, bool)
        for i, text in enumerate(col.to_pylist()):
            v = _exact_int(text) if text is not None else None
            if v is None or not INT64_MIN <= v <= INT64_MAX:
                bad[i] = True
            else:
                values[i] = v
        return values, bad
    return np.zeros(n, "int64"), np.ones(n, bool)  # booleans, dates, …: not numbers


def _floats(col: pa.ChunkedArray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """A float feature as float64 values and a mask of rows that hold no finite number within ±`limit`
    (the model's bound: a tree ensemble refuses values beyond float32's)."""
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:
            x = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            x = pd.to_numeric(col.to_pandas(), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t):
        x = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    else:
        x = np.full(len(col), np.nan)
    with np.errstate(invalid="ignore"):
        return x, ~(np.abs(x) <= limit)  # NaN compares False: flagged too


def check(table: pa.Table | pa.RecordBatch, wanted: tuple[Feature, ...]) -> tuple[dict[str, np.ndarray], list[BadRow]]:
    """The model's columns converted to their signature's dtypes, and every row that cannot be scored
    (its first bad column, in the model's order), ascending. Raises InputFileError when a column is missing."""
    missing = [f.name for f in wanted if f.name not in table.column_names]
    if missing:
        raise InputFileError(
            f"lacks column(s) {', '.join(missing)}; the model reads {', '.join(f.name for f in wanted)}"
        )
    columns: dict[str, np.ndarray] = {}
    reasons: dict[int, BadRow] = {}
    for f in wanted:
        col = table.column(f.name)
        col = col if isinstance(col, pa.ChunkedArray) else pa.chunked_array([col])
        if f.numeric:
            values, bad = _integers(col) if f.integer else _floats(col, f.limit)
            if bad.any():
                for i, why in _reasons(col.to_pylist(), bad, f.integer, f.limit).items():
                    reasons.setdefault(i, BadRow(i, f.name, why))
        else:
            nulls = pc.is_null(col).to_numpy(zero_copy_only=False)
            for i in np.flatnonzero(nulls):
                reasons.setdefault(int(i), BadRow(int(i), f.name, "is empty"))
            values = col.to_pandas().astype(str).to_numpy()
        columns[f.name] = values
    return columns, [reasons[i] for i in sorted(reasons)]


def features(table: pa.Table, wanted: tuple[Feature, ...], path: Path, data: bytes | None = None) -> pd.DataFrame:
    """The model's columns, in its order and types; the first bad row raises InputFileError naming where."""
    try:
        columns, bad = check(table, wanted)
    except InputFileError as exc:
        raise InputFileError(f"{path}: {exc}") from None
    if bad:
        first = bad[0]
        raise InputFileError(
            f"{path}: {where(path, data, [first.record])[0]}: column {first.column} {first.reason} "
            f"({len(bad)} such row(s) in the file)"
        )
    return pd.DataFrame(columns)


# --- scoring ---------------------------------------------------------------------------------------


def score(model: LoadedModel, path: str | os.PathLike) -> pa.Table:
    """One file's output rows: the id columns (or the whole input row) and `prediction`, in the input's order.

    Raises InputFileError (the file's content) or OSError (the file cannot be read)."""
    path = Path(path)
    data = path.read_bytes() if path.suffix.lower() == ".csv" else None
    ids = id_columns()
    x = None
    typed = csv_typed(path, data, model.features, ids) if data is not None else None
    if typed is not None:
        columns, bad = check(typed, model.features)
        if not bad:
            table, x = typed, pd.DataFrame(columns)
    if x is None:
        table = csv_strings(path, data) if data is not None else read_table(path)  # carried columns keep their exact text
        absent = [c for c in ids if c not in table.column_names]
        if absent:
            raise InputFileError(f"{path}: lacks id column(s) {', '.join(absent)} (amlops:batch.idColumns)")
        x = features(table, model.features, path, data)
    kept = table.select(list(ids)) if ids else table
    if not table.num_rows:
        return kept.append_column(PREDICTION, pa.array([], type=pa.int64()))
    try:
        predicted = model.estimator.predict(x)  # type: ignore[attr-defined]
    except (ValueError, TypeError) as exc:  # the model refuses these rows (an unknown category, …): the file fails alone
        raise InputFileError(f"{path}: the model refused its rows: {exc}") from None
    return kept.append_column(PREDICTION, pa.array(np.asarray(predicted)))


def unreadable(path: str | os.PathLike, exc: OSError) -> str:
    """One line for a file the script cannot open or read: it fails alone (run() leaves it out)."""
    return f"{path}: cannot be read ({exc.strerror or exc}); the file fails alone and is not retried"


def csv_bytes(table: pa.Table | pa.RecordBatch, header: bool) -> bytes:
    """The rows as CSV, with or without the header line: unquoted when no value needs quotes (Arrow refuses
    a delimiter, quote or line break unquoted; such rows are written quoted where needed, as is a table of
    one column, whose empty value would be an empty line that CSV readers skip)."""
    if table.num_columns > 1:
        sink = pa.BufferOutputStream()
        try:
            pacsv.write_csv(table, sink, write_options=_PLAIN[header])
            return sink.getvalue().to_pybytes()
        except pa.ArrowInvalid:
            pass
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=_QUOTED[header])
    return sink.getvalue().to_pybytes()
