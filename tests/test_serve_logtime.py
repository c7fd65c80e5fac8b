"""amlops.serving.logtime: the timestamp text made once a second gives the same line as logging's own formatTime."""

from __future__ import annotations

import io
import logging
import time

import pytest
from azureml_inference_server_http.log_config import AMLLogFormatter

from amlops.serving.logtime import SecondsText, cache_time_text

TIMES = [1765000000.0, 1765000000.0004, 1765000000.9995, 1765000000.99999, 1765000001.0, 1765000001.5, 1765000059.999, 1765000060.001, 1765000000.25, 951782399.999, 951782400.0]
"""Seconds and their ends (rounding of msecs), a minute's turn, back in time, and the leap day of 2000."""


def record_at(created: float) -> logging.LogRecord:
    record = logging.LogRecord("azmlinfsrv.print.score", logging.INFO, "score.py", 1, "scored %d rows", (3,), None)
    record.created, record.msecs = created, (created - int(created)) * 1000
    return record


@pytest.mark.parametrize("converter", [time.gmtime, time.localtime], ids=["gmtime", "localtime"])
def test_logtime_server_line_is_the_same_as_loggings_at_every_time(converter):
    plain, cached = AMLLogFormatter(), AMLLogFormatter()
    plain.converter = cached.converter = converter
    cached.formatTime = SecondsText(cached)
    for created in TIMES:
        assert cached.format(record_at(created)) == plain.format(record_at(created)), created


def test_logtime_a_datefmt_set_later_is_followed():
    formatter = AMLLogFormatter()
    formatter.formatTime = SecondsText(formatter)
    formatter.datefmt = "%H:%M"
    assert formatter.formatTime(record_at(TIMES[0]), formatter.datefmt) == time.strftime("%H:%M", time.gmtime(TIMES[0]))


def test_logtime_only_formatters_on_loggings_default_time_rule_are_cached():
    class OwnTime(logging.Formatter):
        def formatTime(self, record, datefmt=None):
            return "t"

    manager = logging.Manager(logging.RootLogger(logging.WARNING))
    shared = AMLLogFormatter()
    handlers = {
        "server": (shared, True),
        "server-again": (shared, True),  # one formatter on two handlers: counted once
        "datefmt": (logging.Formatter("%(asctime)s %(message)s", "[%Y-%m-%d %H:%M:%S %z]"), False),  # gunicorn's
        "own": (OwnTime(), False),
        "plain": (logging.Formatter(), True),
    }
    for name, (formatter, _) in handlers.items():
        handler = logging.StreamHandler(io.StringIO())
        handler.setFormatter(formatter)
        manager.getLogger(name).addHandler(handler)
    assert cache_time_text(manager) == 2
    for name, (formatter, cached) in handlers.items():
        assert isinstance(formatter.formatTime, SecondsText) is cached, name
