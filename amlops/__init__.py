"""amlops: the toolkit that runs the deployed artifacts locally and offline (never uploaded)."""

__version__ = "0.1.0"
