"""Instructions per 1MB part file, counted by callgrind: the baseline's work on one part
(benchmarks/batch/baseline.py's `score`: pyarrow reads, pandas, predict, pyarrow writes) and an
`amlops batch run` worker's (what it does per mini-batch of one file, `worker._process`, with the
shipped tabular script and the dev stack's settings: count the part's records, read and check its
rows, predict, render the output), each over the same parts of the book's 512K pending loans in one
process, after one part of warm-up. callgrind counts the thread that entered the counted function
only, so the baseline reads serially here; in the timed run pyarrow's threads share the same work.
The count is steady where the timed runs (`python -m benchmarks.batch`) spread by ±15% on a shared
machine, so a change of a few percent per part shows here and not there. What it leaves out
(start-up, the parent, the pipes, two workers sharing two cores) the timed run measures.

    python -m benchmarks.batch.instructions [--parts 6]   (needs valgrind)
    python -m benchmarks.batch.instructions --child baseline|worker MODEL_DIR PARTS_DIR N   (what callgrind runs)
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
from pathlib import Path

from amlops.batching.records import file_records
from benchmarks import callgrind
from benchmarks.batch.__main__ import prepare

REPO = Path(__file__).resolve().parent.parent.parent
CASES = {"baseline": "baseline (pyarrow, pandas, predict, pyarrow)", "worker": "amlops batch run worker (tabular_batch.py)"}


def _baseline(model_dir: Path):
    import pyarrow as pa
    import pyarrow.csv as pacsv  # before skops.io, in the baseline's order
    import skops.io

    from benchmarks.batch.baseline import score

    model = skops.io.load(model_dir / "model.skops", trusted=[])
    serial = pacsv.ReadOptions(use_threads=False)  # on the counted thread (see the module's docstring)
    return lambda path: score(path, model, pa.BufferOutputStream(), serial)


def _worker(model_dir: Path):
    """What a worker does with a mini-batch of one file, set up as `worker.serve` sets itself up."""
    import logging

    from amlops.batching import from_config, output, worker
    from amlops.batching.planner import MiniBatch
    from amlops.batching.settings import DEFAULT_SCRIPTS
    from amlops.skopsimport import import_skops
    from amlops.stackfile import load_endpoint

    import_skops()
    settings = from_config(load_endpoint("dev", None).batch, "tabular", 1)
    os.environ.update(settings.environment_variables)
    os.environ[worker.MODEL_DIR_ENV] = str(model_dir)
    worker.keep_freed_memory()
    module = worker.load_script(DEFAULT_SCRIPTS["tabular"])
    module.init()
    part = output.PartFile(Path(tempfile.mkdtemp(prefix="bench-part-")) / "part")
    log = logging.getLogger("amlops.batch.worker")
    ids = iter(range(10**6))
    return lambda path: worker._process(module, MiniBatch(next(ids), (path,)), part, log, True)


def child(case: str, model_dir: Path, parts_dir: Path, count: int) -> None:
    """One part of warm-up, then `count` parts inside one `functools.reduce` (what --toggle-collect counts)."""
    paths = sorted(str(p) for p in parts_dir.glob("*.csv"))[: count + 1]
    if len(paths) < count + 1:
        raise SystemExit(f"{parts_dir}: {len(paths)} parts, {count + 1} needed")
    one = (_baseline if case == "baseline" else _worker)(model_dir)
    one(paths[0])
    functools.reduce(lambda _, path: one(path), paths[1:], None)


def per_part(stderr: str, parts: int) -> int:
    """Instructions per part from callgrind's stderr."""
    return callgrind.collected(stderr) // parts


def run(parts: int) -> tuple[dict[str, int], int]:
    """Each case's instructions per part (both at once), and the rows a counted part holds on average."""
    with tempfile.TemporaryDirectory(prefix="bench-batch-instructions-") as tmp:
        _, folders, model_dir, _ = prepare(Path(tmp), large=False)  # the 512K loans in 1MB parts, the model
        parts_dir = folders["512K"]
        counted = sorted(parts_dir.glob("*.csv"))[1 : parts + 1]
        rows = sum(file_records(p) or 0 for p in counted) // max(len(counted), 1)
        argv = [sys.executable, "-m", "benchmarks.batch.instructions", "--child"]
        counts = callgrind.count({case: ([*argv, case, str(model_dir), str(parts_dir), str(parts)], None) for case in CASES}, REPO)
    return {case: n // parts for case, n in counts.items()}, rows


def report(counts: dict[str, int], rows: int) -> str:
    base = counts["baseline"]
    lines = [f"{f'work on one 1MB part ({rows:,} rows), in process':<48} {'instructions':>14} {'x baseline':>11}"]
    lines += [f"{CASES[case]:<48} {n:>14,} {n / base:11.3f}" for case, n in counts.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch.instructions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", type=int, default=6, help="parts counted, after one of warm-up")
    parser.add_argument("--child", nargs=4, metavar=("CASE", "MODEL_DIR", "PARTS_DIR", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, model_dir, parts_dir, count = args.child
        child(case, Path(model_dir), Path(parts_dir), int(count))
        return
    counts, rows = run(args.parts)
    print(report(counts, rows))
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
