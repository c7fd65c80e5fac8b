"""`amlops batch split`: turn one large table into part files of scorable rows, the unit an Azure batch model deployment distributes.

A batch model deployment hands run() whole files and counts miniBatchSize in files, so a
single 50 MB CSV would be one item on one node; part files of about `part_size` bytes
give it something to spread. CSV is parsed, not cut at byte offsets, so a quoted field
that holds a line break stays in its record; every value keeps its exact text (all
columns are read as strings) and every part repeats the header. Parquet is re-chunked
by rows. The parts appear together or not at all.

Azure fails a whole file for one bad cell, so every row is checked against the model's
signature as it is split, by the entry scripts' own rule (batch/tables.py `check`): only
scorable rows reach the parts; the others go to a rejects file (source, line as an editor
counts it, column, reason), within a policy like BigQuery's max_bad_records or Spark's
badRecordsPath: `max_bad` rows (a count or a percentage of the rows read); beyond it the
split fails naming the first bad lines, and writes nothing.
"""

from __future__ import annotations

import codecs
import csv
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from amlops.atomicfile import atomic_path
from amlops.batching import artifact
from amlops.errors import DataError, UsageError

NAMED = 5
"""How many bad rows an error names (the rejects file holds them all)."""


@dataclass(frozen=True)
class BadRowLimit:
    """How many rows may be set aside before the split fails: a count, or a percentage of the rows read."""

    count: int | None = 0
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> "BadRowLimit":
        """`N` (rows) or `P%` (of the rows read); refuses anything else naming --max-bad-rows."""
        raw = text.strip()
        try:
            if raw.endswith("%"):
                value = float(raw[:-1])
                if not 0 <= value <= 100:
                    raise ValueError
                return cls(None, value)
            value = int(raw)
            if value < 0:
                raise ValueError
            return cls(value, None)
        except ValueError:
            raise UsageError(f"--max-bad-rows takes a row count (0, 10) or a percentage of the rows read (0.5%), got {text!r}") from None

    def allows(self, bad: int, rows: int) -> bool:
        if self.count is not None:
            return bad <= self.count
        return bad <= rows * (self.percent or 0.0) / 100

    def __str__(self) -> str:
        return f"{self.count}" if self.count is not None else f"{self.percent:g}%"


@dataclass(frozen=True)
class Rejected:
    """A row set aside: where it is (a CSV line, a Parquet row), its first bad column, why."""

    where: int
    column: str
    reason: str


@dataclass(frozen=True)
class SplitResult:
    """The parts written, the rows read, written and set aside, and where the rejects are."""

    folder: Path
    parts: tuple[Path, ...]
    rows: int
    """Rows written to the parts (every one scorable when a model was given)."""
    rows_in: int = 0
    """Rows read from the source (written + rejected)."""
    rejected: tuple[Rejected, ...] = field(default_factory=tuple)
    rejects_file: Path | None = None

    def describe(self, source: Path, part_size: str) -> list[str]:
        """What the split did, as the CLI prints it."""
        out = [f"{self.rows:,} rows in {len(self.parts)} part files of about {part_size} in {self.folder}"]
        if self.rejected:
            out.append(f"{len(self.rejected):,} of {self.rows_in:,} rows set aside, not in the parts: {self.rejects_file}")
        return out


def _utf8_problem(path: Path) -> str | None:
    """Where a file stops being UTF-8 (one line naming the file, line and byte); read in chunks, never whole."""
    tables = artifact.tables()
    carry, base, lines = b"", 0, 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 22)
            data = carry + chunk
            if not data:
                return None
            try:
                data.decode("utf-8")
                carry = b""
            except UnicodeDecodeError as exc:
                if chunk and exc.end == len(data) and exc.reason == "unexpected end of data":
                    data, carry = data[:exc.start], data[exc.start:]  # a character cut by the chunk's end
                else:
                    line, _ = tables.line_count(data[:exc.start])
                    return tables.encoding_error(path, lines + line, base + exc.start + 1, data[exc.start], tables.ENCODING_HINT)
            if not chunk:
                return None
            if data.endswith(b"\r"):  # a CRLF cut in two counts once
                data, carry = data[:-1], data[-1:] + carry
            lines += tables.line_count(data)[1]
            base += len(data)


def _csv_names(path: Path, encoding: str) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig" if encoding == "utf-8" else encoding) as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError:
        raise DataError(_utf8_problem(path) or f"{path}: line 1: cannot be decoded as {encoding}") from None
    if not header or not any(n.strip() for n in header):
        raise DataError(f"{path}: line 1: empty; a CSV needs a header line naming its columns")
    return header


class _Misfits:
    """pyarrow's invalid_row_handler: rows with another number of fields than the header are set aside, counted."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, row) -> str:
        self.count += 1
        return "skip"


def _csv_batches(path: Path, names: list[str], part_size: int, encoding: str, misfits: _Misfits | None) -> Iterator[pa.RecordBatch]:
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False)
    read = pacsv.ReadOptions(block_size=part_size, use_threads=False, encoding=encoding)
    parse = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=misfits)
    try:
        yield from pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        problem = _utf8_problem(path) if encoding == "utf-8" else None
        raise DataError(problem or f"{path}: {str(exc).removeprefix('CSV parse error: ')}") from None


def _parquet_batches(path: Path, part_size: int) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet file: {exc}") from None
    rows = max(pf.metadata.num_rows, 1)
    size = sum(pf.metadata.row_group(i).total_byte_size for i in range(pf.metadata.num_row_groups))
    per_part = max(1, part_size * rows // max(size, 1))
    yield from pf.iter_batches(batch_size=per_part)


def _encoding(name: str) -> str:
    try:
        return "utf-8" if codecs.lookup(name).name == "utf-8" else codecs.lookup(name).name
    except LookupError:
        raise UsageError(f"--encoding {name!r} is not an encoding Python knows (utf-8, latin-1, cp1252, …)") from None


def default_rejects(out_dir: Path) -> Path:
    """`<out>-rejects.csv`, beside the parts folder (inside it, a batch job would read it as a part)."""
    return out_dir.with_name(f"{out_dir.name}-rejects.csv")


def _checked(source: Path, part_size: int, encoding: str) -> str:
    """The encoding's canonical name, once the source and the part size are fit to split; UsageError otherwise."""
    if not source.is_file():
        raise UsageError(f"{source} is not a file; pass the CSV or Parquet table to split")
    suffix = source.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(f"{source}: not a .csv or .parquet file")
    if part_size < 1024:
        raise UsageError(f"--part-size must be at least 1KB, got {part_size} bytes")
    encoding = _encoding(encoding)
    if suffix == ".parquet" and encoding != "utf-8":
        raise UsageError(f"--encoding applies to CSV; {source} is Parquet, whose strings are UTF-8 by definition")
    return encoding


def split(
    source: Path, out_dir: Path, part_size: int, overwrite: bool = False, *, features: tuple | None = None,
    max_bad: BadRowLimit = BadRowLimit(), encoding: str = "utf-8", rejects: Path | None = None,
) -> SplitResult:
    """Write `source` (CSV or Parquet) as part files of about `part_size` bytes into `out_dir`.

    With the model's `features`, rows it cannot score are set aside into `rejects` (default
    `default_rejects(out_dir)`) within `max_bad`; beyond it DataError names the first bad lines."""
    _checked(source, part_size, encoding)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise UsageError(f"{out_dir} is not empty; pass another --out or add --overwrite")
    rejects = rejects or default_rejects(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        stream = PartStream(source, staging, part_size, features=features, max_bad=max_bad, encoding=encoding, rejects=rejects)
        for _ in stream:
            pass
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    done = stream.result()
    return SplitResult(out_dir, tuple(out_dir / p.name for p in done.parts), done.rows, done.rows_in, done.rejected, done.rejects_file)


class PartStream:
    """`source` cut into part files in `folder` by split's rules, one part at a time: iterating yields each part's
    path as soon as it is written, so a job scores the first parts while later ones are cut (`amlops batch run` on a
    table). Rows beyond `max_bad` raise DataError from the iteration; `result()` once it has ended."""

    def __init__(self, source: Path, folder: Path, part_size: int, *, features: tuple | None = None,
                 max_bad: BadRowLimit = BadRowLimit(), encoding: str = "utf-8", rejects: Path | None = None):
        encoding = _checked(source, part_size, encoding)
        self.source, self.folder = source, folder
        self.rejects = rejects or default_rejects(folder)
        self._cutter = _Cutter(source, folder, part_size, features, max_bad, encoding)
        self._result: SplitResult | None = None

    def __iter__(self) -> Iterator[Path]:
        self.folder.mkdir(parents=True, exist_ok=True)
        cutter = self._cutter
        yield from cutter.cut()
        rejected = cutter.rejected()
        if not cutter.parts:
            raise DataError(f"{self.source}: holds no rows to split" + (f" ({len(rejected)} set aside)" if rejected else ""))
        if rejected:
            _write_rejects(self.rejects, self.source, rejected, cutter.where_label)
        else:
            self.rejects.unlink(missing_ok=True)  # an earlier split's rejects would describe other parts
        self._result = SplitResult(self.folder, tuple(cutter.parts), cutter.written, cutter.read, tuple(rejected),
                                   self.rejects if rejected else None)

    @property
    def finished(self) -> bool:
        """Whether every part has been cut (and the rejects written)."""
        return self._result is not None

    def result(self) -> SplitResult:
        """What was cut: the parts, the rows, and the rows set aside (only once the iteration has ended)."""
        if self._result is None:
            raise RuntimeError(f"{self.source}: the split has not finished")
        return self._result


def _write_rejects(path: Path, source: Path, rejected: list[Rejected], label: str) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("source", label, "column", "reason"))
        for r in rejected:
            writer.writerow((str(source), r.where, r.column, r.reason))


class _Cutter:
    """One pass over the source: check each batch, write its scorable rows as a part, remember the rest."""

    def __init__(self, source: Path, folder: Path, part_size: int, features: tuple | None, max_bad: BadRowLimit, encoding: str):
        self.source, self.folder, self.part_size = source, folder, part_size
        self.features, self.max_bad, self.encoding = features, max_bad, encoding
        self.csv = source.suffix.lower() == ".csv"
        self.where_label = "line" if self.csv else "row"
        self.parts: list[Path] = []
        self.bad: list = []  # tables.BadRow with record = position among pyarrow's records
        self.misfits = _Misfits() if self.csv and features is not None else None
        self.names: list[str] = []
        self.records = 0
        self.written = 0

    @property
    def read(self) -> int:
        return self.records + self._misfit_count()

    def _misfit_count(self) -> int:
        return self.misfits.count if self.misfits else 0

    def _bad_count(self) -> int:
        return len(self.bad) + self._misfit_count()

    def cut(self) -> Iterator[Path]:
        """Each part's path once it is written; DataError as soon as more rows are bad than `max_bad` allows."""
        tables = artifact.tables()
        if self.csv:
            self.names = _csv_names(self.source, self.encoding)
            batches = _csv_batches(self.source, self.names, self.part_size, self.encoding, self.misfits)
        else:
            batches = _parquet_batches(self.source, self.part_size)
        for batch in batches:
            if self.features is not None and batch.num_rows:
                try:
                    _, bad = tables.check(batch, self.features)
                except tables.InputFileError as exc:
                    raise DataError(f"{self.source}: {exc}") from None
                if bad:
                    self.bad.extend(tables.BadRow(self.records + b.record, b.column, b.reason) for b in bad)
                    mask = np.ones(batch.num_rows, bool)
                    mask[[b.record for b in bad]] = False
                    self.records += batch.num_rows
                    batch = batch.filter(pa.array(mask))
                else:
                    self.records += batch.num_rows
            else:
                self.records += batch.num_rows
            if self.max_bad.count is not None and self._bad_count() > self.max_bad.count:
                self._refuse()
            if batch.num_rows:
                yield self._write(batch)
        if not self.max_bad.allows(self._bad_count(), self.read):
            self._refuse()

    def _write(self, batch: pa.RecordBatch) -> Path:
        part = self.folder / f"part-{len(self.parts):05d}{self.source.suffix.lower()}"
        if self.csv:  # as the entry scripts write CSV: unquoted unless a value needs quotes (batch/tables.py)
            part.write_bytes(artifact.tables().csv_bytes(batch, header=True))
        else:
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_batches([batch]), part)
        self.parts.append(part)
        self.written += batch.num_rows
        return part

    def rejected(self) -> list[Rejected]:
        """Every row set aside, with its line (CSV, one more pass over the source) or row (Parquet), in order."""
        if not self._bad_count():
            return []
        records = [b.record for b in self.bad]
        if not self.csv:
            return [Rejected(r + 1, b.column, b.reason) for r, b in zip(records, self.bad)]
        tables = artifact.tables()
        misfits: list[tuple[int, int]] = []
        with self.source.open(newline="", encoding="utf-8-sig" if self.encoding == "utf-8" else self.encoding, errors="replace") as fh:
            *lines, boundary = tables.lines_of(fh, records + [self.records], width=len(self.names), misfits=misfits)
        out = [Rejected(line, b.column, b.reason) for line, b in zip(lines, self.bad)]
        # pyarrow parses ahead of the batches it hands out: only rows before the first record not yet read count
        out += [Rejected(line, "", f"has {n} field(s); the header names {len(self.names)}") for line, n in misfits if line < boundary]
        return sorted(out, key=lambda r: r.where)

    def _refuse(self) -> None:
        """Fail naming the first bad lines, unless the rows read so far turn out to be within the limit."""
        rejected = self.rejected()
        read = self.records + sum(1 for r in rejected if not r.column)
        if self.max_bad.count is not None and len(rejected) <= self.max_bad.count and self._misfit_count() > len(rejected) - len(self.bad):
            return  # only rows pyarrow parsed ahead pushed the count over: keep reading
        shown = "; ".join(f"{self.where_label} {r.where}: " + (f"column {r.column} {r.reason}" if r.column else r.reason)
                          for r in rejected[:NAMED])
        more = f" (and {len(rejected) - NAMED:,} more)" if len(rejected) > NAMED else ""
        of = f"of the first {read:,} rows" if self.max_bad.count is not None else f"of {read:,} rows"
        raise DataError(
            f"{self.source}: {len(rejected):,} {of} cannot be scored, more than --max-bad-rows {self.max_bad} allows: "
            f"{shown}{more}; fix them, or set them aside into a rejects file with --max-bad-rows N or P%"
        )
