"""Counting instructions with callgrind for the instruction benchmarks: each command is a harness that
calls what it measures inside one `functools.reduce`, the C function `--toggle-collect` counts within
(on the thread that entered it). The commands run at once: counts do not depend on load."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

COLLECTED = re.compile(r"Collected\s*:\s*([\d,]+)")
"""callgrind's last line on stderr: the instructions counted within the toggled function."""


def collected(stderr: str) -> int:
    """The instructions callgrind counted, from its stderr."""
    found = COLLECTED.findall(stderr)
    if not found:
        raise RuntimeError(f"callgrind printed no count: {stderr[-500:]}")
    return int(found[-1].replace(",", ""))


def count(commands: dict[str, tuple[list[str], dict[str, str] | None]], cwd: Path) -> dict[str, int]:
    """Each named command (argv, environment or None for this one's) run under callgrind: its count."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed: this benchmark counts instructions with callgrind")
    flags = [valgrind, "--tool=callgrind", "--toggle-collect=functools_reduce", "--callgrind-out-file=/dev/null"]
    procs = {
        name: subprocess.Popen([*flags, *argv], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for name, (argv, env) in commands.items()
    }
    counts = {}
    for name, proc in procs.items():
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{name}: exit {proc.returncode}: {err[-500:]}")
        counts[name] = collected(err)
    return counts
