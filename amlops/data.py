"""The seeded synthetic loans dataset of the book, and its 512,000-row pending-loans set.

numpy, pandas and pyarrow are imported where used: the CLI reads this module's defaults for its help."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from amlops.atomicfile import atomic_path

if TYPE_CHECKING:
    import pandas as pd

FEATURES: tuple[str, ...] = ("income", "credit_cards", "age")
LABEL = "approved_loan"
APPLICATION_ID = "application_id"
"""Each pending loan's id, so batch predictions can be joined back (amlops:batch.idColumns)."""
DEFAULT_ROWS = 500
DEFAULT_SEED = 42
PENDING_DOUBLINGS = 10
"""The book appends the 500 unlabeled rows to themselves 10 times: 500 × 2¹⁰ = 512,000."""


def generate_loans(rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Loan applications with a label a linear model can learn (about 80% separable).

    Approval rises with income and age and falls with the number of credit cards, with
    logistic noise, so validation accuracy lands well above 0.7 but below 1.
    """
    import numpy as np
    import pandas as pd

    if rows < 10:
        raise ValueError(f"rows must be at least 10, got {rows}")
    rng = np.random.default_rng(seed)
    income = np.round(rng.lognormal(mean=np.log(5000), sigma=0.45, size=rows), 2)
    credit_cards = rng.integers(0, 7, size=rows)
    age = rng.integers(18, 76, size=rows)
    score = 1.6 * np.log(income / 5000) - 0.55 * (credit_cards - 3) + 0.05 * (age - 45)
    approved = (score + rng.logistic(scale=0.6, size=rows) > 0).astype(np.int64)
    return pd.DataFrame(
        {"income": income, "credit_cards": credit_cards.astype(np.int64), "age": age.astype(np.int64), LABEL: approved}
    )


def pending_loans(labelled: pd.DataFrame, doublings: int = PENDING_DOUBLINGS) -> pd.DataFrame:
    """The book's pending loans: the rows without the label, appended to themselves `doublings` times,
    each with an application id (`A0000001`, …) that the batch output carries back."""
    import numpy as np
    import pandas as pd

    frame = labelled[list(FEATURES)].reset_index(drop=True)
    for _ in range(doublings):
        frame = pd.concat([frame, frame], ignore_index=True)
    ids = pd.Series(np.arange(1, len(frame) + 1)).map("A{:07d}".format)
    return frame.assign(**{APPLICATION_ID: ids})[[APPLICATION_ID, *FEATURES]]


@dataclass(frozen=True)
class Dataset:
    """A dataset written to disk, with the lineage a registered model records."""

    path: Path
    rows: int
    digest: str  # sha256 of the file's bytes

    @property
    def short_digest(self) -> str:
        return self.digest[:12]


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_atomically(frame: pd.DataFrame, path: Path, write) -> Dataset:
    """Write through a temporary sibling, then rename: readers never see a partial file."""
    import pyarrow as pa

    with atomic_path(path) as tmp:
        write(pa.Table.from_pandas(frame, preserve_index=False), tmp)
    return Dataset(path, len(frame), file_digest(path))


def write_csv(frame: pd.DataFrame, path: Path) -> Dataset:
    """Write CSV with pyarrow (6x faster than pandas here), atomically."""
    import pyarrow.csv as pacsv

    return _write_atomically(frame, path, pacsv.write_csv)


def write_parquet(frame: pd.DataFrame, path: Path) -> Dataset:
    """Write Parquet atomically."""
    import pyarrow.parquet as pq

    return _write_atomically(frame, path, pq.write_table)


@dataclass(frozen=True)
class GeneratedData:
    loans: Dataset
    pending_csv: Dataset
    pending_parquet: Dataset


def generate_all(out_dir: Path, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> GeneratedData:
    """Write loans.csv (labelled) and pending_loans.csv/.parquet (512,000 rows by default)."""
    labelled = generate_loans(rows, seed)
    pending = pending_loans(labelled)
    return GeneratedData(
        loans=write_csv(labelled, out_dir / "loans.csv"),
        pending_csv=write_csv(pending, out_dir / "pending_loans.csv"),
        pending_parquet=write_parquet(pending, out_dir / "pending_loans.parquet"),
    )
