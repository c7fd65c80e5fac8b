"""Count a CSV's records (not its physical lines) and a Parquet file's rows, quickly: what the job summary reports.

A quoted field may hold line breaks, so lines are not records: a line end counts only outside
quotes (an even number of `"` before it) and only when it ends a non-empty line (pyarrow skips
empty lines; \\r\\n and a lone \\r end lines too). Records are counted vectorized with numpy: bytes whose only
quotes close on their first line and that hold no CR (what `batch split` and the shipped scripts write) by
their line feeds alone, others by the positions of their quotes and line ends.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_QUOTE, _LF, _CR = 34, 10, 13


def csv_records(data: bytes, header: bool = False) -> int:
    """Records in CSV bytes; without the header line's when `header`."""
    records = lines_and_records(data)[1]
    return max(records - 1, 0) if header else records


def lines_and_records(data: bytes) -> tuple[int, int]:
    """The line feeds in CSV bytes and their records, from one numpy mask of the line feeds where every quote
    closes on the first line and there is no CR (the common case: a header's quotes at most); else the records
    from the quote-aware scan. An LF that is the first byte, or follows another at once, ends an empty line."""
    if not data:
        return 0, 0
    lf = np.frombuffer(data, np.uint8) == _LF
    lines = int(np.count_nonzero(lf))
    first = data.find(b"\n")
    if first >= 0 and b"\r" not in data and data.find(b'"', first) < 0 and data.count(b'"', 0, first) % 2 == 0:
        return lines, lines - int(lf[0]) - int(np.count_nonzero(lf[1:] & lf[:-1])) + int(not lf[-1])
    return lines, _scanned(data)


def _scanned(data: bytes) -> int:
    """Records in non-empty CSV bytes, any quoting and line ends: line ends outside quotes that end a non-empty line.

    Works on positions (of quotes and of line ends), not on per-byte running sums: pyarrow's "needed" quoting
    quotes every string, so quotes are the common case and a cumsum over every byte cost more than scoring."""
    raw = np.frombuffer(data, np.uint8)
    quotes = np.flatnonzero(raw == _QUOTE)
    if b"\r" not in data:
        return _lf_scanned(raw, quotes)
    ends = np.flatnonzero((raw == _LF) | (raw == _CR))
    if not len(ends):
        return 1
    after = ends + 1
    crlf_cr = (raw[ends] == _CR) & (after < len(raw))
    crlf_cr[crlf_cr] = raw[after[crlf_cr]] == _LF
    ends = ends[~crlf_cr]  # \r\n is one line end: its LF
    ends = ends[np.searchsorted(quotes, ends) % 2 == 0]  # an even number of quotes before: outside a quoted field
    if not len(ends):
        return 1
    # the byte before each end, skipping the CR of a CRLF; an end at the start or right after another ends an empty line
    before = ends - 1
    skip = (before >= 0) & (raw[ends] == _LF)
    skip[skip] = raw[before[skip]] == _CR
    before[skip] -= 1
    found = np.searchsorted(ends, before)
    empty = (before < 0) | ((found < len(ends)) & (ends[np.minimum(found, len(ends) - 1)] == before))
    return int(np.count_nonzero(~empty)) + int(ends[-1] != len(raw) - 1)


def _lf_scanned(raw: np.ndarray, quotes: np.ndarray) -> int:
    """`_scanned` for bytes whose only line end is LF (pyarrow writes no CR): an LF ends an empty line
    when it is the first byte or follows the previous line end at once."""
    ends = np.flatnonzero(raw == _LF)
    ends = ends[np.searchsorted(quotes, ends) % 2 == 0]
    if not len(ends):
        return 1
    empty = int(ends[0] == 0) + int(np.count_nonzero(np.diff(ends) == 1))
    return len(ends) - empty + int(ends[-1] != len(raw) - 1)


def file_records(path: str | Path) -> int | None:
    """Data records of a CSV (after its header) or rows of a Parquet file; None when it cannot be read or is neither."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return csv_records(path.read_bytes(), header=True)
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
    except (OSError, ValueError):
        return None
    return None


def has_header(path: str | Path) -> bool:
    """Whether a file with no records still names its columns (a CSV header line, a Parquet schema): a header-only
    file, which succeeded with nothing to score; a zero-byte CSV names nothing and is refused by the scripts."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            with path.open("rb") as fh:
                return bool(fh.read(1 << 16).strip())
        return path.suffix.lower() == ".parquet"
    except OSError:
        return False
