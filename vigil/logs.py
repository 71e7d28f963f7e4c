"""Logging set-up for Vigil's entry points (libraries only call ``getLogger``)."""

from __future__ import annotations

import logging
import sys
import time

from vigil.redact import redact

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(processName)s %(name)s: %(message)s"


def configure_logging(level: str | int = "INFO") -> None:
    """Send Vigil's and Celery's logs to stderr in one format."""
    root = logging.getLogger()
    if not any(getattr(handler, "_vigil", False) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(RedactingFilter())  # ours and every library's lines: no password in a URL
        handler._vigil = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    quiet = max(logging.WARNING, root.level)
    # One line per task at 100+ tasks/s costs real CPU and hides what matters.
    for noisy in ("amqp", "kombu", "aiohttp.access", "celery.app.trace", "celery.worker.strategy"):
        logging.getLogger(noisy).setLevel(quiet if root.level > logging.DEBUG else logging.DEBUG)


class RedactingFilter(logging.Filter):
    """Masks passwords in URLs (``vigil.redact``) in a record's message and its exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RateLimitedLog:
    """Log a repeating condition at most once every ``interval`` seconds, with a count."""

    def __init__(self, logger: logging.Logger, interval: float = 5.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last = 0.0
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            self._suppressed += 1
            return
        if self._suppressed:
            message += " (%d similar messages suppressed)"
            args = (*args, self._suppressed)
        self._last, self._suppressed = now, 0
        self.logger.warning(message, *args)
