"""The serving benchmark (`python -m benchmarks.serving`); see bench.py."""
