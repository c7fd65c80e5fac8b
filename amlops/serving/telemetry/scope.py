"""Which request a log record belongs to, and which records the endpoint's logs keep."""

from __future__ import annotations

import logging
from contextvars import ContextVar

SCRIPT_LOGGERS = ("azmlinfsrv.print.score", "azmlinfsrv.print", "azmlinfsrv.user_script")
"""The script's logger, its print() (the server redirects it) and its init() messages."""

current_request: ContextVar[tuple[str, int] | None] = ContextVar("amlops_request", default=None)
"""The request being served, as (request id, trace id of its span): log records carry both."""


def is_script_record(record: logging.LogRecord) -> bool:
    """Records the endpoint's logs keep: the script's logging (and print), any WARNING+ of the
    server, and anything else that reaches the root logger; not the server's own per-request
    INFO lines (they duplicate the spans)."""
    return record.levelno >= logging.WARNING or record.name in SCRIPT_LOGGERS or not record.name.startswith("azmlinfsrv")
