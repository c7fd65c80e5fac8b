"""Batch runner benchmarks: `python -m benchmarks.batch` (see __main__.py)."""
