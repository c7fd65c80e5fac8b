"""Helpers the batch tests share: run a job through the library API, read its reports, write inputs and scripts."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from rich.console import Console

from amlops.batching import BatchSettings, JobSpec, run_job

HEADER = "application_id,income,credit_cards,age\n"


def loans_csv(path: Path, rows: int, bad: dict[int, str] | None = None, start: int = 0) -> Path:
    """`rows` clean loans with ids; `bad` replaces the row on a 1-based file line (the header is line 1)."""
    lines = [f"A{start + i:06d},{4000 + 37 * i}.5,{i % 5},{20 + i % 50}" for i in range(rows)]
    for line, text in (bad or {}).items():
        lines[line - 2] = text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{line}\n" for line in lines))
    return path


def parts(folder: Path, files: int, rows: int, bad: dict[int, dict[int, str]] | None = None) -> Path:
    """A folder of `files` part files of `rows` loans each; `bad` maps a part number to its bad lines."""
    for n in range(files):
        loans_csv(folder / f"part-{n:05d}.csv", rows, (bad or {}).get(n), start=n * rows)
    return folder


def job(tmp_path: Path, model_dir: Path, input: Path, script: Path | None = None, overwrite: bool = False, **settings):
    """Run a job with BatchSettings(**settings); returns (result, output folder, reports folder)."""
    out, reports = tmp_path / "out", tmp_path / "reports"
    n = 0
    while reports.exists():  # a fresh reports folder per job, as the CLI makes one
        n += 1
        reports = tmp_path / f"reports{n}"
    spec = JobSpec(input=input, output_dir=out, reports_dir=reports, settings=BatchSettings(**settings),
                   model_dir=model_dir, script=script, overwrite=overwrite, progress=False)
    return run_job(spec, console=Console(file=io.StringIO())), out, reports


def processed(reports: Path) -> list[dict]:
    with (reports / "processed_mini-batches.csv").open() as fh:
        return list(csv.DictReader(fh))


def errors(reports: Path) -> str:
    return re.sub(r"^\[[0-9: -]+\] ", "", (reports / "errors.log").read_text(), flags=re.M)


def hidden(*folders: Path) -> list[str]:
    """Every hidden file left below the folders (a partial file with a name would show here)."""
    return sorted(str(p) for f in folders if f.exists() for p in f.rglob(".*"))


def script(tmp_path: Path, body: str) -> Path:
    """An entry script with a no-op init(), `body`, and MARKS: a folder for once-only behaviour."""
    path = tmp_path / "test_entry.py"
    path.write_text(
        "import os, signal, time\nfrom pathlib import Path\nMARKS = Path(os.environ.get('MARKS', '.'))\n"
        "def init():\n    pass\n"
        "def once(name):\n    mark = MARKS / name\n    if mark.exists():\n        return False\n    mark.touch()\n    return True\n"
        + body
    )
    return path
