"""Count a CSV's records (not its physical lines) and a Parquet file's rows, quickly: what the job summary reports.

A quoted field may hold line breaks, so lines are not records: a line end counts only outside
quotes (an even number of `"` before it) and only when it ends a non-empty line (pyarrow skips
empty lines; \\r\\n and a lone \\r end lines too). Vectorized with numpy: about a millisecond per MB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_QUOTE, _LF, _CR = 34, 10, 13


def csv_records(data: bytes, header: bool = False) -> int:
    """Records in CSV bytes; without the header line's when `header`."""
    if not data:
        return 0
    raw = np.frombuffer(data, np.uint8)
    crlf = np.zeros(len(raw), bool)
    crlf[:-1] = (raw[:-1] == _CR) & (raw[1:] == _LF)
    raw = raw[~crlf]  # \r\n is one line end
    outside = np.cumsum(raw == _QUOTE) % 2 == 0
    ends = ((raw == _LF) | (raw == _CR)) & outside
    previous = np.ones(len(raw), bool)  # a line end at the start, or right after another, ends an empty line
    previous[1:] = ends[:-1]
    records = int(np.count_nonzero(ends & ~previous)) + int(not ends[-1])
    return max(records - 1, 0) if header else records


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
