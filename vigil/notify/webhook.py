"""Events POSTed to a URL, signed, from one thread per webhook.

Each webhook has its own bounded backlog and thread, so a receiver that hangs or fails holds up
only itself: the processing thread only appends, and other webhooks and MQTT go on. A delivery is
tried ``1 + retries`` times, ``timeout`` seconds each, with jittered exponential backoff between
attempts (:func:`vigil.backoff.compute_backoff`); a 2xx answer ends it. Connection errors,
timeouts, 408, 429 and 5xx are retried; other answers (4xx, a redirect) are refused for good:
retrying would get the same answer.

Headers of every request (the body is :func:`vigil.notify.messages.webhook_body`):

- ``X-Vigil-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>``
- ``X-Vigil-Event``: new, update or end; ``X-Vigil-Delivery``: the same id for every attempt at one
  lifecycle message; ``X-Vigil-Timestamp``: the attempt's time (also ``sent_at`` in the signed body).
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from vigil.backoff import Backoff
from vigil.logs import RateLimitedLog
from vigil.notify.backlog import Backlog
from vigil.notify.config import WebhookConfig
from vigil.notify.messages import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    webhook_body,
)
from vigil.notify.metrics import NotifyMetrics

log = logging.getLogger(__name__)

RETRY_BASE = 1.0
RETRY_CAP = 30.0
STOP_DRAIN_TIMEOUT = 3.0
HALT_JOIN_TIMEOUT = 1.0  # then the thread (a daemon) is left to finish its attempt alone
IDLE_WAIT = 0.5
RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "vigil-webhook/1"
MAX_RESPONSE_READ = 64 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a detour: the signed POST goes to the configured URL only."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def delivery_id(event: Mapping[str, Any]) -> str:
    """Stable per lifecycle message, so retries (and a second streamer) carry the same id."""
    return f"{event.get('id')}.{event.get('type')}.{event.get('seq')}"


class WebhookNotifier:
    """Delivers events to one webhook.

    Args:
        config: the ``[[webhooks]]`` entry.
        metrics: where delivered, failed, retries, dropped and the backlog are counted.
        backoff: the schedule between attempts (tests shorten it).
    """

    notifier = "webhook"

    def __init__(self, config: WebhookConfig, metrics: NotifyMetrics, *,
                 backoff: Backoff | None = None) -> None:
        self.config = config
        self.target = config.name
        self.metrics = metrics
        self.backlog: Backlog[Mapping[str, Any]] = Backlog(config.backlog)
        self._secret = config.secret.get_secret_value().encode()
        self._backoff = backoff or Backoff(base=RETRY_BASE, cap=RETRY_CAP)
        self._stopping = threading.Event()
        self._halt = threading.Event()
        self._busy = False
        self._thread: threading.Thread | None = None
        self._log = RateLimitedLog(log, interval=30.0)
        metrics.watch_backlog(self.notifier, self.target, self.pending_count)

    def submit(self, event: Mapping[str, Any]) -> None:
        """Queue ``event``; never blocks (a full backlog drops its oldest, counted)."""
        if self.backlog.put(event):
            self.metrics.dropped.labels(notifier=self.notifier, target=self.target).inc()

    def pending_count(self) -> int:
        return len(self.backlog) + self._busy

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"notify-webhook-{self.target}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Start draining: deliver what is queued, accept nothing more to wait for."""
        self._stopping.set()
        self.backlog.wake()

    def stop(self, drain: float = STOP_DRAIN_TIMEOUT) -> None:
        """Deliver what is left for up to ``drain`` seconds, then give up (an attempt in flight is abandoned)."""
        self.request_stop()
        self.join(drain)
        self.halt()
        self.join(HALT_JOIN_TIMEOUT)

    def halt(self) -> None:
        """Stop after the attempt in flight, delivering nothing more."""
        self._halt.set()
        self.backlog.wake()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(max(0.0, timeout))

    def _run(self) -> None:
        while not self._halt.is_set():
            if self._stopping.is_set() and not len(self.backlog):
                return
            event = self.backlog.get(IDLE_WAIT)
            if event is None:
                continue
            self._busy = True
            try:
                self._deliver(event)
            finally:
                self._busy = False
        if len(self.backlog):
            log.warning("webhook %s stopping with %d event(s) undelivered", self.target, len(self.backlog))

    def _deliver(self, event: Mapping[str, Any]) -> None:
        labels = {"notifier": self.notifier, "target": self.target}
        delivery = delivery_id(event)
        self._backoff.reset()
        reason = ""
        for attempt in range(1 + self.config.retries):
            if attempt:
                self.metrics.retried.labels(**labels).inc()
                if self._halt.wait(self._backoff.next()):
                    reason += "; stopped"
                    break
            try:
                ok, retry, reason = self._attempt(event, delivery)
            except (KeyError, TypeError, ValueError) as exc:  # not JSON-able: a bug upstream, never retried
                ok, retry, reason = False, False, f"cannot encode the event: {exc}"
            if ok:
                self.metrics.delivered.labels(**labels).inc()
                return
            if not retry:
                break
        self.metrics.failed.labels(**labels).inc()
        self._log.warning("webhook %s: event %s (%s on %s) not delivered: %s", self.target, event.get("id"),
                          event.get("type"), event.get("camera"), reason)

    def _attempt(self, event: Mapping[str, Any], delivery: str) -> tuple[bool, bool, str]:
        """One POST: (delivered, worth retrying, why not)."""
        sent_at = time.time()
        body = webhook_body(event, delivery, sent_at)
        request = urllib.request.Request(self.config.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(self._secret, body),
            TIMESTAMP_HEADER: f"{sent_at:.3f}",
            DELIVERY_HEADER: delivery,
            EVENT_HEADER: str(event.get("type")),
        })
        try:
            with _OPENER.open(request, timeout=self.config.timeout) as response:
                response.read(MAX_RESPONSE_READ)
                status = response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return False, exc.code in RETRIED_STATUSES, f"HTTP {exc.code}"
        except (OSError, http.client.HTTPException) as exc:  # URLError, refused, reset, timeout
            return False, True, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        if 200 <= status < 300:
            return True, False, ""
        return False, status in RETRIED_STATUSES, f"HTTP {status}"
