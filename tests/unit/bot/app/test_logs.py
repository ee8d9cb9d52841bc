"""How `consultbot run` logs: one line per request on the configured handler, no Slack request
bodies, and none of the per-record extras the format never shows."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.app.logs import configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    switches = (
        logging._srcfile,  # type: ignore[attr-defined]
        logging.logThreads,
        logging.logProcesses,
        logging.logMultiprocessing,
    )
    levels = {name: logging.getLogger(name).level for name in ("slack_sdk", "slack_bolt")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    (
        logging._srcfile,  # type: ignore[attr-defined]
        logging.logThreads,
        logging.logProcesses,
        logging.logMultiprocessing,
    ) = switches
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def test_a_request_line_reaches_the_handler_and_slack_sdk_debug_does_not(
    restored_logging: None,
) -> None:
    out = io.StringIO()
    configure_logging(logging.StreamHandler(out))
    logging.getLogger("consultbot.requests").info('{"kind": "view_submission"}')
    logging.getLogger("slack_sdk.web").debug("Sending a request - body: xoxb-secret")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith('INFO consultbot.requests {"kind": "view_submission"}')
    assert "xoxb" not in out.getvalue()


def test_records_skip_what_the_format_never_shows(restored_logging: None) -> None:
    configure_logging(logging.StreamHandler(io.StringIO()))
    record = logging.getLogger("consultbot.requests").makeRecord(
        "consultbot.requests", logging.INFO, "(unknown file)", 0, "x", (), None
    )
    assert record.threadName is None and record.processName is None
    assert logging._srcfile is None  # type: ignore[attr-defined]  # no walk up the stack
