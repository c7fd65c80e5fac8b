"""The single-process baseline the batch runner is measured against (run as its own process).

pyarrow reads the whole CSV, pandas, predict, pyarrow writes the id column and the
prediction with no header: the simplest correct way to score one file on one machine.

    python benchmarks/batch/baseline.py INPUT.csv MODEL_DIR OUTPUT.csv
"""

from __future__ import annotations

import sys


def score(src: str, model: object, dest: object, read_options: object = None) -> None:
    """One file's rows scored by `model`, written to `dest` (a path or a pyarrow output stream); pyarrow's default
    read options (its threads read the blocks) unless `read_options` says otherwise."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    frame = pacsv.read_csv(src, read_options=read_options).to_pandas()
    out = frame[["application_id"]].assign(prediction=model.predict(frame[["income", "credit_cards", "age"]]))  # type: ignore[attr-defined]
    pacsv.write_csv(pa.Table.from_pandas(out, preserve_index=False), dest, write_options=pacsv.WriteOptions(include_header=False))


def main(src: str, model_dir: str, dest: str) -> None:
    import pyarrow.csv  # noqa: F401 - imported before skops.io, as the baseline always has
    import skops.io

    score(src, skops.io.load(f"{model_dir}/model.skops", trusted=[]), dest)


if __name__ == "__main__":
    main(*sys.argv[1:4])
