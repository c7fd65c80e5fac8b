"""The single-process baseline the batch runner is measured against (run as its own process).

pyarrow reads the whole CSV, pandas, predict, pyarrow writes the id column and the
prediction with no header: the simplest correct way to score one file on one machine.

    python benchmarks/batch/baseline.py INPUT.csv MODEL_DIR OUTPUT.csv
"""

from __future__ import annotations

import sys


def main(src: str, model_dir: str, dest: str) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import skops.io

    frame = pacsv.read_csv(src).to_pandas()
    model = skops.io.load(f"{model_dir}/model.skops", trusted=[])
    out = frame[["application_id"]].assign(prediction=model.predict(frame[["income", "credit_cards", "age"]]))
    pacsv.write_csv(pa.Table.from_pandas(out, preserve_index=False), dest, write_options=pacsv.WriteOptions(include_header=False))


if __name__ == "__main__":
    main(*sys.argv[1:4])
