"""`python -m benchmarks` (`make bench`): CLI start-up, then serving (throughput, instructions per request, start and
stop, admission), then batch (end to end, then instructions per part)."""

from __future__ import annotations

import subprocess
import sys

SUITES = ("benchmarks.cli", "benchmarks.serving", "benchmarks.serving.instructions", "benchmarks.serving.start", "benchmarks.serving.admission", "benchmarks.batch",
          "benchmarks.batch.instructions")


def main() -> int:
    failed = []
    for suite in SUITES:
        print(f"== python -m {suite}", flush=True)
        if subprocess.call([sys.executable, "-m", suite]) != 0:
            failed.append(suite)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
