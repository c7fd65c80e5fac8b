"""What run() returned, as output: rows counted and formatted as headerless CSV (in the worker, appended
to its own part file), and the output file that appears whole or not at all (in the parent).

Workers never send rows through a pipe: each appends its CSV bytes to a hidden part file
and reports the byte range; the parent copies the ranges of succeeded mini-batches into
the output in mini-batch order with copy_file_range (in the kernel), then renames it.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

_NO_HEADER = pacsv.WriteOptions(include_header=False)
MAX_NAMED_FAILURES = 1000
"""At most this many failed items of one mini-batch are named in the error log (the rest are counted)."""


class ResultTypeError(TypeError):
    """run() returned something that is neither a DataFrame nor a list."""


@dataclass(frozen=True, slots=True)
class Rows:
    """run()'s result for one mini-batch: how many rows, which inputs are missing, and its CSV bytes."""

    returned: int
    missing: tuple[int, ...]
    """Positions (within the mini-batch) of items run() did not return, where they can be told."""
    data: bytes = b""
    offset: int = 0
    """Where `data` went in the worker's part file (the parent copies offset..offset+length)."""
    length: int = 0


def collect(result: object, given: pd.DataFrame | list[str], formatted: bool) -> Rows:
    """Count and (when `formatted`) format run()'s result for the mini-batch `given`."""
    if isinstance(result, pd.DataFrame):
        rows = len(result)
        data = _frame_bytes(result) if formatted and rows else b""
    elif isinstance(result, (list, tuple, np.ndarray)):
        items = result.tolist() if isinstance(result, np.ndarray) else list(result)
        rows = len(items)
        data = _list_bytes(items) if formatted and rows else b""
    else:
        raise ResultTypeError(
            f"run() returned {type(result).__name__}; return a pandas DataFrame or a list with one entry per item it scored"
        )
    missing: tuple[int, ...] = ()
    if rows < len(given):
        missing = _missing(result, given)
    return Rows(rows, missing, data)


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    try:
        if all(isinstance(t, np.dtype) and t.kind in "biuf" for t in frame.dtypes):
            # plain numeric columns: from_arrays skips from_pandas' schema work (≈ 0.6 ms a mini-batch)
            table = pa.Table.from_arrays([pa.array(frame[c].to_numpy()) for c in frame.columns], names=[str(c) for c in frame.columns])
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed-type object columns: pandas can still write them
        return frame.to_csv(header=False, index=False).encode()
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=_NO_HEADER)
    return sink.getvalue().to_pybytes()


def _list_bytes(items: list) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for item in items:
        if isinstance(item, (list, tuple)):
            writer.writerow(item)
        elif isinstance(item, np.ndarray):
            writer.writerow(item.tolist())
        else:
            buf.write(f"{item}\n")
    return buf.getvalue().encode()


def _missing(result: object, given: pd.DataFrame | list[str]) -> tuple[int, ...]:
    """Which inputs have no result row: all when run() returned none, else by the DataFrame index run() kept,
    or by the path each list row starts with."""
    if len(result) == 0:  # type: ignore[arg-type]
        return tuple(range(min(len(given), MAX_NAMED_FAILURES)))
    if isinstance(given, pd.DataFrame) and isinstance(result, pd.DataFrame):
        index = result.index
        if index.is_unique and len(given.index) and index.isin(given.index).all():
            lost = np.ones(len(given), dtype=bool)
            lost[given.index.get_indexer(index)] = False
            return tuple(int(i) for i in np.flatnonzero(lost)[:MAX_NAMED_FAILURES])
        return ()
    if isinstance(given, list) and isinstance(result, (list, tuple)):
        firsts = {str(r[0]) for r in result if isinstance(r, (list, tuple)) and r}
        if firsts and firsts <= set(given):
            return tuple(i for i, p in enumerate(given) if p not in firsts)[:MAX_NAMED_FAILURES]
    return ()


class PartFile:
    """A worker's own append-only file of CSV bytes; results travel as (offset, length), not through the pipe."""

    def __init__(self, path: Path):
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._end = 0

    def store(self, rows: Rows) -> Rows:
        """Append the rows' bytes; the returned Rows carries their range instead of the bytes."""
        view, offset = memoryview(rows.data), self._end
        while view:
            view = view[os.write(self._fd, view):]
        self._end += len(rows.data)
        return Rows(rows.returned, rows.missing, b"", offset, len(rows.data))


def part_path(out_dir: Path, output_file_name: str, slot: int, pid: int) -> Path:
    return out_dir / f".{output_file_name}.part-{slot}-{pid}"


class OutputFile:
    """`output_file_name`, assembled in a hidden file from the workers' part files, renamed into place on commit.

    Ranges are copied in mini-batch order as soon as every earlier mini-batch is settled
    (succeeded or failed), so the output's row order is the input's.
    """

    def __init__(self, path: Path):
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
        self._fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._sources: dict[Path, int] = {}
        self._waiting: dict[int, tuple[Path, int, int] | None] = {}
        self._next = 0
        self.bytes = 0

    def settle(self, mini_batch_id: int, part: Path | None = None, offset: int = 0, length: int = 0) -> None:
        """Mini-batch `mini_batch_id` is done: its rows are `length` bytes at `offset` of `part` (none if it failed)."""
        self._waiting[mini_batch_id] = (part, offset, length) if part is not None and length else None
        while self._next in self._waiting:
            piece = self._waiting.pop(self._next)
            if piece is not None:
                self._copy(*piece)
            self._next += 1

    def _copy(self, part: Path, offset: int, length: int) -> None:
        src = self._sources.get(part)
        if src is None:
            src = self._sources[part] = os.open(part, os.O_RDONLY)
        end = offset + length
        while offset < end:
            try:
                n = os.copy_file_range(src, self._fd, end - offset, offset)
            except OSError:  # a filesystem without it: copy through user space
                n = os.write(self._fd, os.pread(src, min(end - offset, 1 << 20), offset))
            if n == 0:
                raise OSError(f"{part}: ends before byte {end}")
            offset += n
        self.bytes += length

    def _close(self) -> None:
        for fd in self._sources.values():
            os.close(fd)
        self._sources.clear()
        os.close(self._fd)
        for part in self.path.parent.glob(f".{self.path.name}.part-*"):
            part.unlink(missing_ok=True)

    def commit(self) -> Path:
        """Make the output appear, whole (every mini-batch must have settled)."""
        if self._waiting:
            raise RuntimeError(f"output incomplete: mini-batch {self._next} never settled")
        self._close()
        os.replace(self.partial, self.path)
        return self.path

    def discard(self) -> None:
        """Remove the partial and part files (after a failure or Ctrl-C): no output at all."""
        self._close()
        self.partial.unlink(missing_ok=True)
