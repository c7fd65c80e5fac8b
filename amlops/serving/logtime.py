"""A serving worker's log lines with their timestamp text made once a second, not once a line.

`logging.Formatter.formatTime` converts the record's time (`time.gmtime` for the inference server's
AMLLogFormatter) and formats it with `time.strftime` for every line: about a third of what formatting
the server's line (`%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s`) costs, paid on
each request's lines. The text changes once a second, so a formatter that leaves the time to logging's
own rule (no datefmt, its default formats, gmtime or localtime) gets that rule with the seconds' text
kept until the second changes; the milliseconds are formatted per line as before. The line is the
same character for character (tests/test_serve_logtime.py compares them).
"""

from __future__ import annotations

import logging
import time


class SecondsText:
    """`formatter.formatTime` for a formatter on logging's default time rule, the seconds' text kept per second."""

    def __init__(self, formatter: logging.Formatter):
        self.converter = formatter.converter
        self.time_format = formatter.default_time_format
        self.msec_format = formatter.default_msec_format
        self._cached: tuple[int, str] = (-1, "")

    def __call__(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt:  # set on the formatter since: logging's rule for it
            return time.strftime(datefmt, self.converter(record.created))
        second = int(record.created)
        cached = self._cached
        if cached[0] != second:  # one tuple: a thread reads either the old pair or the new one
            cached = self._cached = (second, time.strftime(self.time_format, self.converter(record.created)))
        return self.msec_format % (cached[1], record.msecs) if self.msec_format else cached[1]


def _on_default_rule(formatter: logging.Formatter) -> bool:
    """True for a formatter whose time text is logging's default rule, with a converter whose fields change only on whole seconds."""
    cls = type(formatter)
    return (
        formatter.datefmt is None
        and cls.formatTime is logging.Formatter.formatTime
        and "formatTime" not in vars(formatter)
        and formatter.converter in (time.gmtime, time.localtime)
        and formatter.default_time_format == logging.Formatter.default_time_format
    )


def cache_time_text(manager: logging.Manager | None = None) -> int:
    """Give each formatter on logging's default time rule, in `manager`'s loggers' handlers, a SecondsText; returns how many."""
    from amlops.serving.logfields import tree

    done: set[int] = set()
    for logger in tree(manager or logging.root.manager):
        for handler in logger.handlers:
            formatter = handler.formatter
            if formatter is None or id(formatter) in done or not _on_default_rule(formatter):
                continue
            formatter.formatTime = SecondsText(formatter)  # type: ignore[method-assign]
            done.add(id(formatter))
    return len(done)
