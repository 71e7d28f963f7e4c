"""Scenario 7, ``notify``: live latency with MQTT and webhook notifications off (A) and on (B).

Issue 8 promises that neither notifier ever blocks frame processing. Both runs are the live
pipeline of scenario 3 (capture at 15 fps, a worker, a recording streamer, the real detectors) on
a source that raises incidents; A's streamer has a site file without notifications, B's the same
site file plus ``[mqtt]`` (the local Mosquitto, a topic prefix of its own) and a ``[[webhooks]]``
entry pointing at a receiver the bench runs, which answers only after ``WEBHOOK_DELAY`` so a slow
receiver is part of the measurement. A and B alternate, ``repeat`` times each.

To show that notifications really flowed, B counts what the streamer raised and delivered (its
``/metrics``) and what arrived: the lifecycle messages a subscriber of the bench got on
``<prefix>/events``, and the signed POSTs the receiver got.
"""

from __future__ import annotations

import json
import secrets
import statistics
import threading
import time
import urllib.request
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

from vigil.bench.deployment import pipeline, streamer_url
from vigil.bench.live import live_window
from vigil.bench.options import ALL, Options, sample_image
from vigil.bench.report import spread, within_noise
from vigil.notify.messages import SIGNATURE_HEADER, verify

MQTT_BROKER = ("127.0.0.1", 1883)
NOTIFY_SOURCE = "demo"  # a fall in every 16 s cycle with the real detectors; the synthetic scene has no people
# Named as start_captures names them. One: two demo cameras (a person and a face in every frame, heavier
# than scenario 3's clip) saturate the real detectors on a 2-core machine, and a saturated pipeline's
# latency is its queue bounds, not what the notifiers add.
CAMERAS = ("bench0",)
FALL_COOLDOWN_S = 1.0  # short, so every fall of a looped clip is an incident of its own
WEBHOOK_DELAY = 0.2  # seconds the receiver waits before answering: a slow receiver
WEBHOOK_NAME = "bench"
SETTLE_TIMEOUT = 15.0  # seconds to wait for the notifiers' backlogs to empty after the captures stop


def site_toml(cameras: Sequence[str], source: str, cooldown_s: float, *, mqtt: tuple[str, int, str] | None = None,
              webhook: tuple[str, str] | None = None) -> str:
    """The site file of one run: the cameras with a short fall cooldown, and the notifiers, if any.

    Args:
        cameras: camera names (each ``[cameras.<name>]`` with ``source``).
        source: what the cameras show (the streamer only needs the rules; capture gets ``--source``).
        cooldown_s: the fall rule's ``cooldown_s``.
        mqtt: (host, port, topic prefix) for ``[mqtt]``, or None.
        webhook: (url, secret) for one ``[[webhooks]]`` entry, or None.
    """
    lines: list[str] = []
    for name in cameras:
        lines += [f"[cameras.{name}]", f"source = {json.dumps(source)}", "",
                  f"[cameras.{name}.rules.fall]", f"cooldown_s = {cooldown_s!r}", ""]
    if mqtt is not None:
        host, port, prefix = mqtt
        lines += ["[mqtt]", f"host = {json.dumps(host)}", f"port = {port}", f"prefix = {json.dumps(prefix)}", ""]
    if webhook is not None:
        url, secret = webhook
        lines += ["[[webhooks]]", f"name = {json.dumps(WEBHOOK_NAME)}", f"url = {json.dumps(url)}",
                  f"secret = {json.dumps(secret)}", ""]
    return "\n".join(lines)


def notify_counts(exposition: str) -> dict[str, float]:
    """What the streamer's ``/metrics`` says about events and their notifications.

    Returns:
        ``events`` (incident lifecycle messages raised), and ``<notifier>_<counter>`` for the
        delivered, failed and dropped counters and the backlog gauge of ``mqtt`` and ``webhook``
        (summed over targets; 0 when absent).
    """
    counts = {f"{notifier}_{name}": 0.0 for notifier in ("mqtt", "webhook")
              for name in ("delivered", "failed", "dropped", "backlog")}
    counts["events"] = 0.0
    wanted = {"vigil_notify_delivered_total": "delivered", "vigil_notify_failed_total": "failed",
              "vigil_notify_dropped_total": "dropped", "vigil_notify_backlog": "backlog"}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "vigil_events_total":
                counts["events"] += sample.value
            elif sample.name in wanted:
                key = f"{sample.labels.get('notifier')}_{wanted[sample.name]}"
                if key in counts:
                    counts[key] += sample.value
    return counts


class SlowReceiver:
    """A webhook receiver on 127.0.0.1 that answers 204 after ``delay`` seconds.

    Counts every POST and those whose ``X-Vigil-Signature`` checks with ``secret``.
    """

    def __init__(self, secret: str, delay: float = WEBHOOK_DELAY) -> None:
        self.posts = 0
        self.signed = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                valid = verify(secret.encode(), body, self.headers.get(SIGNATURE_HEADER, ""))
                time.sleep(delay)
                with lock:
                    receiver.posts += 1
                    receiver.signed += valid
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-webhook", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/vigil"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class MqttCounter:
    """Subscribes to ``<prefix>/#`` and counts the lifecycle messages on ``<prefix>/events``.

    :meth:`close` empties the retained topics the run left (availability, state, snapshots), so
    the shared broker keeps nothing of the benchmark.

    Raises:
        RuntimeError: the broker cannot be reached or does not confirm the subscription.
    """

    def __init__(self, host: str, port: int, prefix: str) -> None:
        self.prefix = prefix
        self.events = 0
        self._retained: set[str] = set()
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self._client = paho.Client(CallbackAPIVersion.VERSION2)
        self._client.on_connect = lambda client, *_: client.subscribe(f"{prefix}/#", qos=1)
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.on_message = self._on_message
        try:
            self._client.connect(host, port, keepalive=10)
        except OSError as exc:
            raise RuntimeError(f"the notify scenario needs an MQTT broker at {host}:{port} "
                               f"(start Mosquitto: mosquitto -d): {exc}") from exc
        self._client.loop_start()
        if not subscribed.wait(10):
            self._client.loop_stop()
            raise RuntimeError(f"MQTT broker {host}:{port} did not confirm the subscription to {prefix}/#")

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            if message.topic == f"{self.prefix}/events":
                self.events += 1
            if message.retain or message.topic != f"{self.prefix}/events":
                self._retained.add(message.topic)

    def close(self) -> None:
        with self._lock:
            topics = sorted(self._retained)
        for topic in topics:
            self._client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        self._client.disconnect()
        self._client.loop_stop()


def _scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        return notify_counts(response.read().decode())


def _settled_counts(url: str, timeout: float = SETTLE_TIMEOUT) -> dict[str, float]:
    """The streamer's counts once both notifiers' backlogs are empty (or ``timeout`` passed)."""
    deadline = time.monotonic() + timeout
    counts = _scrape(url)
    while counts["mqtt_backlog"] + counts["webhook_backlog"] > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        counts = _scrape(url)
    return counts


def _run(options: Options, notifying: bool, rep: int, source: str) -> dict[str, Any]:
    name = f"notify-{'on' if notifying else 'off'}-{rep}"
    log_dir = options.target.work_dir / name
    log_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(16)
    prefix = f"vigil-bench-{uuid.uuid4().hex[:12]}"
    counter = MqttCounter(*MQTT_BROKER, prefix) if notifying else None
    receiver = SlowReceiver(secret) if notifying else None
    site = log_dir / "vigil.toml"
    site.write_text(site_toml(CAMERAS, source, FALL_COOLDOWN_S,
                              mqtt=(*MQTT_BROKER, prefix) if notifying else None,
                              webhook=(receiver.url, secret) if receiver is not None else None))
    real = options.real_detectors
    pool, concurrency = ("prefork", 2) if real else (options.live_pool, options.live_concurrency)
    settings = {"events_url": str(log_dir / "events.sqlite3"), "media_dir": str(log_dir / "media")}
    try:
        with pipeline(options.target, name, override="" if real else "null", queues=ALL,
                      pool=pool, concurrency=concurrency,
                      settings=settings, config=site) as (env, procs):
            _, summary = live_window(options, name, env, procs, len(CAMERAS), source)
            counts = _settled_counts(streamer_url(procs["streamer"]))
        time.sleep(0.5)  # the subscriber's last messages
        summary["counts"] = counts
        summary["mqtt_received"] = counter.events if counter is not None else 0
        summary["webhook_posts"] = receiver.posts if receiver is not None else 0
        summary["webhook_signed"] = receiver.signed if receiver is not None else 0
    finally:
        if counter is not None:
            counter.close()
        if receiver is not None:
            receiver.close()
    return summary


def _row(label: str, a: Sequence[float], b: Sequence[float], scale: float = 1.0, digits: int = 1,
         compare: bool = False) -> list[Any]:
    if not compare:
        return [label, spread(a, scale, digits), spread(b, scale, digits), "", ""]
    ratio = statistics.median(b) / statistics.median(a) if a and b and statistics.median(a) else float("nan")
    return [label, spread(a, scale, digits), spread(b, scale, digits), f"{ratio:.2f}",
            "yes" if within_noise(a, b) else "no"]


def notify(options: Options) -> dict[str, Any]:
    source = NOTIFY_SOURCE if options.source == "synthetic" else options.source
    sample_image(source)  # a missing file fails here, not as runs of zero frames
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    for rep in range(options.repeat):
        for key, notifying in (("off", False), ("on", True)):
            options.progress(f"notify: repetition {rep + 1}/{options.repeat}: notifications {key}")
            runs[key].append(_run(options, notifying, rep, source))
    off, on = runs["off"], runs["on"]

    def values(reps: list[dict[str, Any]], *path: str) -> list[float]:
        out = []
        for run in reps:
            value: Any = run
            for part in path:
                value = value[part]
            out.append(float(value))
        return out

    rows = [
        _row("e2e p50 ms", values(off, "end_to_end", "p50"), values(on, "end_to_end", "p50"), 1000, compare=True),
        _row("e2e p95 ms", values(off, "end_to_end", "p95"), values(on, "end_to_end", "p95"), 1000, compare=True),
        _row("e2e p99 ms", values(off, "end_to_end", "p99"), values(on, "end_to_end", "p99"), 1000, compare=True),
        _row("frames measured", values(off, "frames"), values(on, "frames"), digits=0),
        _row("frames incomplete %", [100 * r["incomplete"] / max(1, r["frames"]) for r in off],
             [100 * r["incomplete"] / max(1, r["frames"]) for r in on]),
        _row("streamer CPU (cores)", values(off, "cpu", "streamer"), values(on, "cpu", "streamer"), digits=2),
        _row("incident messages raised (new/update/end)", values(off, "counts", "events"),
             values(on, "counts", "events"), digits=0),
        _row("MQTT: delivered (broker acks, streamer)", [], values(on, "counts", "mqtt_delivered"), digits=0),
        _row("MQTT: received on <prefix>/events (bench subscriber)", [], values(on, "mqtt_received"), digits=0),
        _row("webhook: delivered (2xx, streamer)", [], values(on, "counts", "webhook_delivered"), digits=0),
        _row(f"webhook: signed POSTs received ({WEBHOOK_DELAY * 1000:.0f} ms receiver)", [],
             values(on, "webhook_signed"), digits=0),
        _row("notifications failed + dropped", [],
             [r["counts"]["mqtt_failed"] + r["counts"]["mqtt_dropped"] + r["counts"]["webhook_failed"]
              + r["counts"]["webhook_dropped"] for r in on], digits=0),
    ]
    detectors = "real detectors, -P prefork -c 2" if options.real_detectors else f"null, -P {options.live_pool}"
    cameras = f"{len(CAMERAS)} camera{'s' if len(CAMERAS) > 1 else ''}"
    title = (f"7. Notifications off (A) and on (B): {detectors}; {cameras} x 15 fps x 4 algorithms, "
             f"source {Path(source).name}, {options.duration:.0f} s per run")
    headers = ["measure", "A: notifications off", "B: MQTT + webhook", "B / A", "within noise"]
    return {"tables": [(title, headers, rows)], "data": {"source": source, "off": off, "on": on}}

