"""What run() returned, as Azure's append_row writes it, and the output file that appears whole or not at all.

append_row aggregates every element run() returns into one file, one after another,
each followed by a line break ("append all outputs separated by line", ParallelRunStep's
output_action; https://learn.microsoft.com/python/api/azureml-pipeline-steps/azureml.pipeline.steps.parallelrunconfig).
A DataFrame is written without its column names ("the output file doesn't include those
names", https://learn.microsoft.com/azure/machine-learning/how-to-batch-scoring-script)
and without its index, its values separated by a space (how every azureml-examples
notebook reads predictions.csv back: `pd.read_csv(..., header=None, sep=" ")`). Other
elements are written as `str(element)`; a string is written as it is, so one element
may hold several lines.

Workers never send rows through a pipe: each appends its bytes to its own part file and
reports the byte range; the parent copies the ranges of succeeded mini-batches into the
output in mini-batch order with copy_file_range. Part files and the output under
construction have no name on disk (unlinked, or O_TMPFILE), so no exit — not even
SIGKILL — leaves a partial file behind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amlops.batching.records import lines_and_records

MAX_NAMED_FAILURES = 1000
"""At most this many failed items of one mini-batch are named in the error log (the rest are counted)."""


class ResultTypeError(TypeError):
    """run() returned something that is neither a DataFrame nor a list."""


@dataclass(frozen=True, slots=True)
class Rows:
    """run()'s result for one mini-batch: how many elements, which inputs are missing, and its output bytes."""

    returned: int
    missing: tuple[int, ...]
    """Positions (within the mini-batch) of items run() did not return, where they can be told."""
    data: bytes = b""
    lines: int = 0
    """Lines the output gains (a string element may hold several)."""
    records: int = 0
    """CSV records the output gains: lines outside quoted fields (a quoted field may hold line breaks)."""
    offset: int = 0
    """Where `data` went in the worker's part file (the parent copies offset..offset+length)."""
    length: int = 0


def collect(result: object, given: list[str], formatted: bool) -> Rows:
    """Count and (when `formatted`) render run()'s result for the mini-batch `given`, as append_row would."""
    if isinstance(result, pd.DataFrame):
        returned = len(result)
        data = frame_bytes(result) if formatted and returned else b""
    elif isinstance(result, (list, tuple, np.ndarray)):
        items = result.tolist() if isinstance(result, np.ndarray) else list(result)
        returned = len(items)
        data = "".join(f"{item}\n" for item in items).encode() if formatted and returned else b""
    else:
        raise ResultTypeError(
            f"run() returned {type(result).__name__}; return a pandas DataFrame or a list with one element per file it processed"
        )
    missing: tuple[int, ...] = ()
    if returned < len(given):
        missing = _missing(result, given)
    return Rows(returned, missing, data, *lines_and_records(data))


def frame_bytes(frame: pd.DataFrame) -> bytes:
    """A DataFrame's rows as append_row writes them: no header, no index, values separated by a space."""
    text = frame.astype(str).agg(" ".join, axis=1) if len(frame.columns) else pd.Series([""] * len(frame))
    return ("\n".join(text) + "\n").encode()


def _missing(result: object, given: list[str]) -> tuple[int, ...]:
    """Which inputs have no result: all when run() returned none, else the paths absent from a list of paths."""
    if len(result) == 0:  # type: ignore[arg-type]
        return tuple(range(min(len(given), MAX_NAMED_FAILURES)))
    if isinstance(result, (list, tuple)) and all(isinstance(r, str) for r in result) and set(result) <= set(given):
        kept = set(result)
        return tuple(i for i, p in enumerate(given) if p not in kept)[:MAX_NAMED_FAILURES]
    return ()


class PartFile:
    """A worker's own append-only file of output bytes; results travel as (offset, length), not through the pipe.

    The parent opens it when the worker is ready and removes its name at once (`claim`)."""

    def __init__(self, path: Path):
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._end = 0

    def store(self, rows: Rows) -> Rows:
        """Append the rows' bytes; the returned Rows carries their range instead of the bytes."""
        view, offset = memoryview(rows.data), self._end
        while view:
            view = view[os.write(self._fd, view):]
        self._end += len(rows.data)
        return Rows(rows.returned, rows.missing, b"", rows.lines, rows.records, offset, len(rows.data))


def part_path(folder: Path, slot: int, pid: int) -> Path:
    return folder / f".part-{slot}-{pid}"


def _unnamed_file(folder: Path) -> tuple[int, Path | None]:
    """A writable file in `folder` with no name (O_TMPFILE), or a hidden named one where the filesystem has none."""
    try:
        return os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o644), None
    except (OSError, AttributeError):
        path = folder / f".partial-{os.getpid()}"
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644), path


def _copy_whole(fd: int, target: Path) -> None:
    size = os.fstat(fd).st_size
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        offset = 0
        while offset < size:
            n = os.copy_file_range(fd, out, size - offset, offset)
            if n == 0:
                break
            offset += n
        os.fsync(out)
    finally:
        os.close(out)


def publish(fd: int, named: Path | None, target: Path) -> Path:
    """Give the unnamed file `fd` the name `target`, replacing any earlier file there in one step."""
    os.fsync(fd)
    staged = target.with_name(f".{target.name}.{os.getpid()}")
    if named is None:
        staged.unlink(missing_ok=True)
        try:
            os.link(f"/proc/self/fd/{fd}", staged, follow_symlinks=True)  # linkat(AT_SYMLINK_FOLLOW): open(2), O_TMPFILE
        except OSError:  # some filesystems (overlayfs) refuse the link: copy in the kernel instead
            _copy_whole(fd, staged)
    else:
        os.replace(named, staged)
    os.replace(staged, target)
    return target


class OutputFile:
    """`output_file_name`, assembled from the workers' part files without a name until `commit` gives it one.

    Ranges are copied in mini-batch order as soon as every earlier mini-batch is settled
    (succeeded or failed), so the output's order is the input's.
    """

    def __init__(self, path: Path):
        self.path = path
        self._fd, self._named = _unnamed_file(path.parent)
        self._sources: dict[Path, int] = {}
        self._waiting: dict[int, tuple[Path, int, int] | None] = {}
        self._next = 0
        self.bytes = 0

    def claim(self, part: Path) -> None:
        """Open a worker's part file for reading and remove its name: from now on only open handles reach it."""
        if part not in self._sources:
            self._sources[part] = os.open(part, os.O_RDONLY)
            part.unlink(missing_ok=True)

    def settle(self, mini_batch_id: int, part: Path | None = None, offset: int = 0, length: int = 0) -> None:
        """Mini-batch `mini_batch_id` is done: its rows are `length` bytes at `offset` of `part` (none if it failed)."""
        self._waiting[mini_batch_id] = (part, offset, length) if part is not None and length else None
        while self._next in self._waiting:
            piece = self._waiting.pop(self._next)
            if piece is not None:
                self._copy(*piece)
            self._next += 1

    def _copy(self, part: Path, offset: int, length: int) -> None:
        self.claim(part)
        src = self._sources[part]
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

    def commit(self) -> Path:
        """Make the output appear, whole, replacing an earlier job's (every mini-batch must have settled)."""
        if self._waiting:
            raise RuntimeError(f"output incomplete: mini-batch {self._next} never settled")
        self._close()
        try:
            return publish(self._fd, self._named, self.path)
        finally:
            os.close(self._fd)

    def discard(self) -> None:
        """Drop what was assembled (after a failure or Ctrl-C): no output at all, an earlier one untouched."""
        self._close()
        os.close(self._fd)
        if self._named is not None:
            self._named.unlink(missing_ok=True)
