"""Split the input into mini-batches the way an Azure batch model deployment does: lists of files, by count.

"Batch deployments distribute work at the file level … a folder that contains 100 files,
with mini-batches of 10 files, generates 10 batches of 10 files each"
(https://learn.microsoft.com/azure/machine-learning/how-to-batch-scoring-script). Before
any work starts the planner walks the input (an unreadable folder is an error, never
skipped) and checks that every table names the stack's id columns.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from amlops.errors import DataError, UsageError


@dataclass(frozen=True, slots=True)
class MiniBatch:
    """One unit of work: the file paths run() is called with."""

    id: int
    paths: tuple[str, ...]
    weight: int = 0
    """The files' bytes (plus one per file), for the progress bar."""

    @property
    def items(self) -> int:
        return len(self.paths)

    def where(self) -> str:
        """Where its items come from, for reports: the file, or `3 files from part-00000.csv`."""
        first = self.paths[0] if self.paths else ""
        return first if len(self.paths) == 1 else f"{len(self.paths)} files from {first}"

    def locate(self, position: int) -> str:
        """The item at `position`: its path."""
        return self.paths[position]


@dataclass(frozen=True)
class Plan:
    """The input's files, its total weight, and the mini-batches."""

    files: Sequence[Path]
    """The input's files (a streamed plan's grow as its parts are cut)."""
    total_weight: int
    mini_batches: Iterator[MiniBatch]


def _raise(err: OSError) -> None:
    raise DataError(f"{err.filename}: cannot be read ({err.strerror}); fix its permissions or leave it out of --input")


def input_files(path: Path) -> list[Path]:
    """`path` itself, or every non-hidden file below the folder, sorted; an unreadable folder is an error."""
    if not path.exists():
        raise UsageError(f"input {path} does not exist; pass a file or a folder of files with --input")
    if path.is_file():
        return [path]
    files = []
    for folder, dirs, names in os.walk(path, onerror=_raise):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(folder) / n for n in names if not n.startswith("."))
    if not files:
        raise DataError(f"input folder {path} holds no files")
    return sorted(files)


def _size(path: Path) -> int:
    """A file's bytes for the progress bar; 0 when it cannot be read (the entry script fails that file alone)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def table_columns(path: Path) -> tuple[str, ...] | None:
    """A CSV's header names or a Parquet file's column names; None when the file has none to give (the entry
    script then fails that file, and Azure counts it)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as fh:
                return tuple(next(csv.reader(fh), ()))
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return tuple(pq.read_schema(path).names)
    except (OSError, UnicodeDecodeError, ValueError, csv.Error):
        return None
    return None


def check_id_columns(files: list[Path], id_columns: tuple[str, ...]) -> None:
    """Every table that has a header must name the id columns: caught before any job runs."""
    if not id_columns:
        return
    for f in files:
        columns = table_columns(f)
        if columns:
            missing = [c for c in id_columns if c not in columns]
            if missing:
                raise DataError(
                    f"{f}: lacks id column(s) {', '.join(missing)} named by amlops:batch.idColumns "
                    f"({', '.join(id_columns)}); its columns are {', '.join(columns)}"
                )


def plan(path: Path, size: int, id_columns: tuple[str, ...] = ()) -> Plan:
    """Check the input, then mini-batches of `size` files (Azure's miniBatchSize for model deployments)."""
    files = input_files(path)
    check_id_columns(files, id_columns)
    sizes = [_size(f) for f in files]

    def by_count() -> Iterator[MiniBatch]:
        for n, i in enumerate(range(0, len(files), size)):
            group = files[i:i + size]
            yield MiniBatch(id=n, paths=tuple(str(p) for p in group), weight=sum(sizes[i:i + size]) + len(group))

    return Plan(tuple(files), sum(sizes) + len(files), by_count())


def streamed(parts: Iterable[Path], size: int, total_weight: int) -> Plan:
    """Mini-batches of `size` files taken from `parts` as they appear (a table being cut while the job runs);
    `total_weight` estimates their bytes for the progress bar (the table's size). The files are known once it ends."""
    files: list[Path] = []

    def by_count() -> Iterator[MiniBatch]:
        group: list[Path] = []
        weight = 0
        for path in parts:
            files.append(path)
            group.append(path)
            weight += _size(path) + 1
            if len(group) == size:
                yield MiniBatch(id=len(files) // size - 1, paths=tuple(str(p) for p in group), weight=weight)
                group, weight = [], 0
        if group:
            yield MiniBatch(id=(len(files) - 1) // size, paths=tuple(str(p) for p in group), weight=weight)

    return Plan(files, total_weight, by_count())
