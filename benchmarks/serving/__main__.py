"""`python -m benchmarks.serving`: run the four servers and print ratios to (1)."""

from __future__ import annotations

import argparse

from benchmarks.serving.bench import report, run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each timed window (one single-client and one N-client window per server per round)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client processes for the throughput window")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of every server")
    parser.add_argument("--only", default="1,2,3,4", help="which servers, e.g. 1,3 (5 and 6: amlops serve with telemetry, then auth too, off; 7: admission off)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (each server measured once per round)")
    args = parser.parse_args()
    only = tuple(int(x) for x in args.only.split(","))
    print(report(run(args.seconds, args.clients, args.workers, only, args.rounds), args.clients))


if __name__ == "__main__":
    main()
