"""CLI start-up benchmark: every `amlops … --help` and `amlops config show` as a whole process,
against a minimal Typer app's `--help` (benchmarks/cli/minimal_app.py: one command, one sub-app,
Rich help) measured in the same run.

    python -m benchmarks.cli [--repeat 5] [--only "batch run"]

Each case runs in pairs with the baseline, the order alternating pair by pair; a pair's ratio is
the case's wall time over the baseline's. The median ratio is printed beside its target (help
1.5x, config show 3x) with the spread of the pairs (min–max): the machine is shared.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
AMLOPS = str(Path(sys.executable).parent / "amlops")
BASELINE = [sys.executable, str(HERE / "minimal_app.py"), "--help"]
HELP_TARGET = 1.5
CONFIG_TARGET = 3.0


def commands() -> list[list[str]]:
    """`--help` of the app, of every sub-app and command, and `config show --stack dev`."""
    import typer

    from amlops.cli import app

    root = typer.main.get_command(app)
    ctx = root.make_context("amlops", ["--help"], resilient_parsing=True)

    def walk(group, prefix: list[str]) -> list[list[str]]:
        out = []
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            out.append([*prefix, name, "--help"])
            if hasattr(command, "list_commands"):
                out.extend(walk(command, [*prefix, name]))
        return out

    return [["--help"], *walk(root, []), ["config", "show", "--stack", "dev"]]


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def pair_ratios(cmd: list[str], repeat: int) -> tuple[list[float], list[float]]:
    """(ratios, baseline seconds) of `repeat` pairs, alternating which of the two runs first."""
    ratios, bases = [], []
    for n in range(repeat):
        if n % 2:
            case, base = wall(cmd), wall(BASELINE)
        else:
            base, case = wall(BASELINE), wall(cmd)
        ratios.append(case / base)
        bases.append(base)
    return ratios, bases


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="pairs per command")
    parser.add_argument("--only", help="only commands starting with these words, e.g. 'batch run'")
    args = parser.parse_args()
    console = Console()
    wall(BASELINE)  # warm the page cache for both
    wall([AMLOPS, "--help"])
    todo = [c for c in commands() if not args.only or " ".join(c).startswith(args.only)]
    table = Table(title=f"CLI start-up, whole process, {args.repeat} alternating pairs with a minimal Typer app's --help")
    for col in ("command", "median ratio", "spread", "target", "met"):
        table.add_column(col, justify="left" if col == "command" else "right")
    all_bases, missed = [], 0
    for cmd in todo:
        ratios, bases = pair_ratios([AMLOPS, *cmd], args.repeat)
        all_bases += bases
        target = CONFIG_TARGET if cmd[0] == "config" and cmd[1] == "show" and "--help" not in cmd else HELP_TARGET
        median = statistics.median(ratios)
        met = median <= target
        missed += not met
        table.add_row(f"amlops {' '.join(cmd)}", f"{median:.2f}x", f"{min(ratios):.2f}–{max(ratios):.2f}x", f"≤ {target}x", "yes" if met else "NO")
    console.print(table)
    console.print(f"baseline (minimal Typer app --help): median {statistics.median(all_bases):.3f} s over {len(all_bases)} runs")
    console.print(f"{len(todo) - missed} of {len(todo)} commands within their target")


if __name__ == "__main__":
    main()
