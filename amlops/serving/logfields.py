"""A serving worker's log records without the fields nothing in its logging reads.

Every record pays for its caller's file, line and function (`Logger.findCaller` walks the stack), its
thread's id and name, and its multiprocessing process name, whether a handler prints them or not. The
inference server's format (`%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s`, its
logging.json) prints none of them, and neither does the telemetry file's log line. Python's logging HOWTO
names the switches that skip them (https://docs.python.org/3/howto/logging.html#optimization):
`logging.logThreads = False`, `logging.logMultiprocessing = False`, and `logging._srcfile = None` for the
caller. That last one also drops the stack of a record logged with `stack_info=True`, so the caller is
skipped here by a `findCaller` that walks the stack only for such a record.

A switch is thrown only when every handler and filter in the worker's logging tree is one whose reads are
known here, and none of them reads the switch's fields: a logging.json beside score.py whose format prints
`%(lineno)d` keeps the caller's line; Azure Monitor's OpenTelemetry handler (which exports the code
location and thread) keeps everything. The tree is read once the app is built (score.py's init() has run);
a handler a script adds later, while serving, gets records without the skipped fields.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from dataclasses import dataclass
from types import MethodType

SWITCHES = {
    "findCaller": frozenset({"pathname", "filename", "module", "lineno", "funcName"}),
    "logThreads": frozenset({"thread", "threadName"}),
    "logMultiprocessing": frozenset({"processName"}),
}
"""Each switch and the record fields it skips."""

_find_caller = logging.Logger.findCaller


def _caller_for_stacks_only(self: logging.Logger, stack_info: bool = False, stacklevel: int = 1) -> tuple:
    """Logger.findCaller where nothing reads the caller's location: the stack is walked only for a record that asks for it."""
    if stack_info:
        return _find_caller(self, stack_info, stacklevel + 1)  # + 1: this frame is not logging's own
    return "(unknown file)", 0, "(unknown function)", None  # what logging records with _srcfile = None


def _throw(name: str) -> None:
    if name == "findCaller":
        logging.Logger.findCaller = _caller_for_stacks_only  # type: ignore[method-assign]
    else:
        setattr(logging, name, False)


PLAIN_HANDLERS = (
    logging.StreamHandler,
    logging.FileHandler,
    logging.handlers.WatchedFileHandler,
    logging.handlers.RotatingFileHandler,
    logging.handlers.TimedRotatingFileHandler,
)
"""Handlers that read a record only through their formatter (exact types: a subclass may read more)."""
FILTERS = {
    "logging.Filter": frozenset({"name"}),
    "azureml_inference_server_http.log_config.RootAccessFilter": frozenset({"msg", "args"}),
    "opentelemetry.sdk._shared_internal.DuplicateFilter": frozenset({"module", "levelno", "msg"}),
}
"""The filters found in a serving worker (by class) and the record fields each reads."""


@dataclass(frozen=True)
class Reads:
    """The record fields a logging tree reads."""

    handlers: frozenset[str]
    """By a handler, its formatter or its filters: fields of every record that reaches it."""
    loggers: dict[str, frozenset[str]]
    """By a logger's own filters, per logger name: fields of the records logged to that logger only."""


def tree(manager: logging.Manager) -> list[logging.Logger]:
    """The root logger and every logger made so far (not logging's placeholders)."""
    return [manager.root, *(v for v in list(manager.loggerDict.values()) if isinstance(v, logging.Logger))]


def _filters_fields(filters: list) -> frozenset[str] | None:
    """What the filters read together, or None if one of them is not in FILTERS."""
    found: set[str] = set()
    for item in filters:
        fields = FILTERS.get(f"{type(item).__module__}.{type(item).__qualname__}")
        if fields is None:
            return None
        found |= fields
    return frozenset(found)


def _formatter_fields(formatter: logging.Formatter | None) -> frozenset[str] | None:
    """Every word of the formatter's format string (a superset of the fields it reads), or None when its class may read more."""
    if formatter is None:
        return frozenset({"message"})  # logging's default formatter
    if type(formatter).format is not logging.Formatter.format or type(formatter).formatMessage is not logging.Formatter.formatMessage:
        return None
    return frozenset(re.findall(r"\w+", formatter._fmt or ""))


def _handler_fields(handler: logging.Handler) -> frozenset[str] | None:
    from amlops.serving.telemetry.localfile import JsonlLogHandler

    if type(handler) in (JsonlLogHandler, logging.NullHandler):  # JsonlLogHandler (lines.log_line) reads none of SWITCHES' fields
        own: frozenset[str] | None = frozenset()
    elif type(handler) in PLAIN_HANDLERS:
        own = _formatter_fields(handler.formatter)
    else:
        return None
    filtered = _filters_fields(handler.filters)
    return None if own is None or filtered is None else own | filtered


def fields_read(manager: logging.Manager) -> Reads | None:
    """What the handlers and filters of `manager`'s loggers can read, or None if any of them is not known here."""
    handlers: set[str] = set()
    own: dict[str, frozenset[str]] = {}
    for logger in tree(manager):
        for handler in logger.handlers:
            fields = _handler_fields(handler)
            if fields is None:
                return None
            handlers |= fields
        if logger.filters:
            fields = _filters_fields(logger.filters)
            if fields is None:
                return None
            own[logger.name] = fields
    return Reads(frozenset(handlers), own)


def skip_unread_fields(manager: logging.Manager | None = None) -> list[str]:
    """Throw the switches of SWITCHES whose fields nothing reads; returns their names. A logger whose own
    filters read the caller's fields keeps logging's findCaller."""
    manager = manager or logging.root.manager
    reads = fields_read(manager)
    if reads is None:
        return []
    thrown = []
    for name, fields in SWITCHES.items():
        if fields & reads.handlers:
            continue
        keeping = [logger for logger, read in reads.loggers.items() if fields & read]
        if name != "findCaller" and keeping:
            continue  # a module-wide switch: kept for one logger, kept for all
        _throw(name)
        for logger in keeping:
            target = manager.root if logger == "root" else manager.getLogger(logger)
            target.findCaller = MethodType(_find_caller, target)  # type: ignore[method-assign]
        thrown.append(name)
    return thrown
