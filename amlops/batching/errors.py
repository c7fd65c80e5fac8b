"""Typed errors of the batch runner (the CLI turns them into messages and exit codes)."""

from __future__ import annotations

from amlops.errors import AmlopsError


class BatchJobFailed(AmlopsError):
    """The job stopped: a threshold was exceeded; the reports say which items failed."""


class EntryScriptFailed(AmlopsError):
    """The entry script could not be imported or its init() raised: no mini-batch can run."""


class BatchInterrupted(AmlopsError):
    """Ctrl-C or SIGTERM stopped the job; the workers are stopped and no output was written."""

    exit_code = 130
