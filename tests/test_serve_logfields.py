"""amlops.serving.logfields: a worker's log records skip the fields none of its handlers or filters read."""

from __future__ import annotations

import io
import json
import logging
import logging.handlers

import pytest
from azureml_inference_server_http.log_config import AMLLogFormatter, RootAccessFilter
from opentelemetry.sdk._shared_internal import DuplicateFilter

from amlops.serving.logfields import fields_read, skip_unread_fields
from amlops.serving.telemetry.localfile import JsonlLogHandler, JsonlWriter, LocalFile

SERVER_FORMAT = "%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s"
"""The inference server's logging.json format."""


@pytest.fixture(autouse=True)
def restored(monkeypatch):
    """The logging module's switches as they were, after each test."""
    monkeypatch.setattr(logging.Logger, "findCaller", logging.Logger.findCaller)
    monkeypatch.setattr(logging, "logThreads", logging.logThreads)
    monkeypatch.setattr(logging, "logMultiprocessing", logging.logMultiprocessing)


class Captured(list):
    """The records a logger made (added after the switches: what a record carries is set when it is made)."""

    def attach(self, logger: logging.Logger) -> "Captured":
        handler = logging.Handler()
        handler.emit = self.append  # type: ignore[method-assign]
        logger.addHandler(handler)
        return self


def worker_tree(tmp_path, fmt: str = SERVER_FORMAT) -> tuple[logging.Manager, io.StringIO, JsonlWriter]:
    """A logging tree shaped as a serving worker's: the server's stdout handler and access filter, the telemetry file's handler."""
    manager = logging.Manager(logging.RootLogger(logging.WARNING))
    out = io.StringIO()
    stdout = logging.StreamHandler(out)
    stdout.setFormatter(AMLLogFormatter(fmt))
    server = manager.getLogger("azmlinfsrv")
    server.setLevel(logging.INFO)
    server.addHandler(stdout)
    server.propagate = False
    manager.getLogger("gunicorn.access").addFilter(RootAccessFilter())
    writer = JsonlWriter(LocalFile(tmp_path / "t.jsonl"))
    handler = JsonlLogHandler(writer)
    for logger in (manager.root, server):
        logger.addHandler(handler)
    return manager, out, writer


def test_logfields_server_logging_skips_caller_threads_and_process_name_and_prints_the_same_line(tmp_path):
    manager, out, writer = worker_tree(tmp_path)
    try:
        logger = manager.getLogger("azmlinfsrv.print.score")
        logger.info("scored %d rows", 3)
        before = out.getvalue()
        assert skip_unread_fields(manager) == ["findCaller", "logThreads", "logMultiprocessing"]
        records = Captured().attach(logger)
        logger.info("scored %d rows", 3)
        after = out.getvalue()[len(before):]
    finally:
        writer.close()
    (record,) = records
    assert (record.pathname, record.lineno, record.funcName, record.thread, record.threadName, record.processName) == (
        "(unknown file)", 0, "(unknown function)", None, None, None,
    )
    assert after.split(" ", 2)[2] == before.split(" ", 2)[2] == f"I [{record.process}] azmlinfsrv.print.score - scored 3 rows\n"
    first, second = [{k: v for k, v in json.loads(line).items() if k != "time"} for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert first == second == {
        "kind": "log", "severity": "INFO", "logger": "azmlinfsrv.print.score", "body": "scored 3 rows",
        "trace_id": None, "request_id": None, "attributes": {},
    }


def test_logfields_a_format_printing_the_line_keeps_the_caller(tmp_path):
    manager, out, writer = worker_tree(tmp_path, "%(asctime)s %(funcName)s:%(lineno)d %(message)s")
    try:
        assert skip_unread_fields(manager) == ["logThreads", "logMultiprocessing"]
        logger = manager.getLogger("azmlinfsrv.print.score")
        records = Captured().attach(logger)
        logger.info("scored")
    finally:
        writer.close()
    (record,) = records
    assert record.funcName == "test_logfields_a_format_printing_the_line_keeps_the_caller" and record.lineno > 0
    assert out.getvalue().endswith(f"test_logfields_a_format_printing_the_line_keeps_the_caller:{record.lineno} scored\n")


def test_logfields_a_record_asking_for_its_stack_gets_it_and_its_caller(tmp_path):
    manager, _, writer = worker_tree(tmp_path)
    try:
        assert "findCaller" in skip_unread_fields(manager)
        logger = manager.getLogger("azmlinfsrv.print.score")
        records = Captured().attach(logger)
        logger.info("with stack", stack_info=True)
        logger.info("without")
    finally:
        writer.close()
    with_stack, without = records
    assert with_stack.funcName == "test_logfields_a_record_asking_for_its_stack_gets_it_and_its_caller"
    assert with_stack.pathname == __file__ and with_stack.stack_info.startswith("Stack (most recent call last):")
    assert "test_logfields_a_record_asking_for_its_stack_gets_it_and_its_caller" in with_stack.stack_info
    assert (without.funcName, without.stack_info) == ("(unknown function)", None)


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(type("Custom", (logging.StreamHandler,), {})(io.StringIO()), id="a StreamHandler subclass"),
        pytest.param(logging.handlers.MemoryHandler(10), id="MemoryHandler"),
    ],
)
def test_logfields_a_handler_not_known_here_keeps_every_field(tmp_path, handler):
    manager, _, writer = worker_tree(tmp_path)
    manager.getLogger("azmlinfsrv.print").addHandler(handler)
    try:
        assert fields_read(manager) is None
        assert skip_unread_fields(manager) == []
    finally:
        writer.close()
    assert logging.Logger.findCaller.__name__ == "findCaller" and logging.logThreads and logging.logMultiprocessing


def test_logfields_azure_monitor_log_handler_keeps_every_field(tmp_path):
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider

    manager, _, writer = worker_tree(tmp_path)
    manager.getLogger("azmlinfsrv").addHandler(LoggingHandler(logger_provider=LoggerProvider()))
    try:
        assert skip_unread_fields(manager) == []
    finally:
        writer.close()


def test_logfields_a_formatter_class_of_its_own_keeps_every_field(tmp_path):
    class Shouting(logging.Formatter):
        def format(self, record):
            return f"{record.funcName}: {record.getMessage().upper()}"

    manager, out, writer = worker_tree(tmp_path)
    manager.getLogger("azmlinfsrv").handlers[0].setFormatter(Shouting("%(message)s"))
    try:
        assert skip_unread_fields(manager) == []
    finally:
        writer.close()


def test_logfields_a_loggers_own_filter_reading_the_module_keeps_the_caller_for_that_logger_only(tmp_path):
    manager, _, writer = worker_tree(tmp_path)
    filtered = manager.getLogger("opentelemetry.sdk._shared_internal")
    filtered.addFilter(DuplicateFilter())
    try:
        assert fields_read(manager).loggers["opentelemetry.sdk._shared_internal"] == {"module", "levelno", "msg"}
        assert skip_unread_fields(manager) == ["findCaller", "logThreads", "logMultiprocessing"]
        records = Captured()
        for name in ("opentelemetry.sdk._shared_internal", "azmlinfsrv.print.score"):
            records.attach(manager.getLogger(name))
        filtered.warning("export failed")
        manager.getLogger("azmlinfsrv.print.score").warning("scored")
    finally:
        writer.close()
    assert [r.module for r in records] == ["test_serve_logfields", "(unknown file)"]


def test_logfields_a_filter_not_known_here_keeps_every_field(tmp_path):
    manager, _, writer = worker_tree(tmp_path)
    manager.getLogger("azmlinfsrv.print.score").addFilter(lambda record: record.lineno > 0)
    try:
        assert skip_unread_fields(manager) == []
    finally:
        writer.close()
