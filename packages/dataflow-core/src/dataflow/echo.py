"""``DataFlow(echo=True)``: every statement's text on stderr, with no logging set up by the program.

Statements are logged at INFO on the ``dataflow.sql`` logger. Echo adds one
handler to that logger, once per process, which writes to stderr only while
the program has configured no handler of its own on the way to the root
logger (``logging.basicConfig``, a framework's, pytest's): then the
program's own handlers show the statements instead, and nothing is printed
twice. Instances without ``echo`` log nothing, so one echoing instance never
makes another one talk.
"""

from __future__ import annotations

import logging
import sys

sql_log = logging.getLogger("dataflow.sql")
FORMAT = "%(asctime)s dataflow.sql %(message)s"


class StderrEcho(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes ``dataflow.sql`` records to the current ``sys.stderr`` unless logging is configured elsewhere."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        if _handled_elsewhere(self):
            return
        # The stream of the moment: a program (or a test) may have replaced sys.stderr since.
        self.stream = sys.stderr
        super().emit(record)


def _handled_elsewhere(mine: logging.Handler) -> bool:
    logger: logging.Logger | None = sql_log
    while logger is not None:
        if any(handler is not mine for handler in logger.handlers):
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def enable_echo() -> None:
    """Make statements logged on ``dataflow.sql`` visible: INFO level, and the stderr handler (added once)."""
    if not any(isinstance(handler, StderrEcho) for handler in sql_log.handlers):
        sql_log.addHandler(StderrEcho())
    if sql_log.getEffectiveLevel() > logging.INFO:
        sql_log.setLevel(logging.INFO)
