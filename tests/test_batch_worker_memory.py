"""A batch worker keeps the memory it frees for its next mini-batch (amlops.batching.worker.keep_freed_memory)."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import json, resource, sys
from amlops.batching.worker import keep_freed_memory
took = keep_freed_memory() if sys.argv[1] == "keep" else None

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

def mini_batch():  # what scoring a part allocates and frees: a file's bytes, a buffer of results
    data = bytearray(4 << 20)
    out = bytes(data)
    return len(out)

mini_batch()
before = faults()
for _ in range(50):
    mini_batch()
print(json.dumps({"took": took, "faults": faults() - before}))
"""


def _run(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _PROBE, mode], check=True, capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout)


def test_batch_worker_keeps_freed_memory_so_each_mini_batch_does_not_fault_its_pages_in_again():
    default, kept = _run("default"), _run("keep")
    assert kept["took"] is True
    assert default["faults"] > 50 * 1000  # two 4 MB buffers a round, mapped and faulted in afresh each time
    assert kept["faults"] < 100, kept  # the heap's own pages, reused
