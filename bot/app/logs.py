"""How a consultbot process logs: one place, used by `consultbot run` and by the benchmarks that
measure it (so the request log's cost is measured as it runs)."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(handler: logging.Handler | None = None) -> None:
    """INFO to stderr (or to `handler`), one line per handled request (bot.app.bolt)."""
    handler = handler or logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # slack_sdk logs request bodies at DEBUG; keep it above that so tokens and answers stay out.
    for noisy in ("slack_sdk", "slack_bolt", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The format shows none of these, and gathering them for every record (the caller's file
    # and line above all: a walk up the stack) costs each request in a deadline rush. The
    # logging HOWTO's "Optimization" section names these switches.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
