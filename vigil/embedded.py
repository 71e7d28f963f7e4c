"""``vigil run``: capture, workers and streamer in one process, no RabbitMQ, no Redis.

The same Celery tasks run on an in-memory broker and result backend, with a worker
thread pool inside this process; the same capture daemon and stream core as in
distributed mode. When every source has ended, the pipeline drains and a report
(every frame's joined results, the events, latency statistics) can be written.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil.app import create_app
from vigil.capture.daemon import CaptureDaemon
from vigil.capture.dispatch import FrameDispatcher
from vigil.messages import CaptureStats
from vigil.notify import NotifyConfig
from vigil.settings import Settings
from vigil.stats import summarize
from vigil.stream.auth import AuthConfig
from vigil.stream.core import StreamCore
from vigil.stream.recorder import MemoryRecorder
from vigil.stream.results import BackendPoller
from vigil.stream.service import StreamService, attach_notifications, open_event_store

if TYPE_CHECKING:
    from vigil.config import SiteConfig

log = logging.getLogger(__name__)

EMBEDDED_BROKER = "memory://localhost/"  # with a host: kombu warns on every run without one
EMBEDDED_BACKEND = "cache+memory://"


class _AlwaysConnected:
    """The in-process feed: capture calls the core directly, so it is always connected."""

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.connected.set()

    def run(self, stop: threading.Event) -> None:
        stop.wait()


def run_embedded(
    settings: Settings,
    sources: Sequence[tuple[str, str]],
    *,
    fps: float | None,
    max_frames: int | None,
    loop: bool,
    fast: bool,
    host: str,
    port: int | None,
    workers: int,
    stop: threading.Event,
    record: bool,
    site: SiteConfig | None = None,
    auth: AuthConfig | None = None,
    notify: NotifyConfig | None = None,
) -> dict[str, Any]:
    """Run the whole pipeline in this process until the sources end or ``stop`` is set.

    With a ``site`` file, its cameras are run (with their rates, motion gating, masks,
    zones and rule options) and ``sources`` must be empty. ``notify``: the notifications
    (default: the site file's, else none).

    Returns:
        The report: every joined frame (if ``record``), events, latency statistics.

    Raises:
        ConfigError: a bad notification setting (before anything starts).
    """
    if notify is None:
        notify = site.notifications() if site is not None else NotifyConfig()
    settings = settings.replace(broker_url=EMBEDDED_BROKER, result_backend=EMBEDDED_BACKEND)
    store, media = open_event_store(settings)  # before any thread: a bad store stops nothing half-started
    app = create_app(settings)
    # The thread pool runs tasks through celery's *default* app, not the worker's.
    app.set_default()
    worker = app.WorkController(
        pool_cls="threads", concurrency=workers, queues=list(settings.algorithms),
        hostname="vigil-embedded@localhost", without_heartbeat=True, without_mingle=True,
        without_gossip=True, prefetch_multiplier=1,
    )
    worker_thread = threading.Thread(target=worker.start, name="celery-worker", daemon=True)
    worker_thread.start()

    recorder = MemoryRecorder() if record else None
    core = StreamCore(settings, store, recorder=recorder, site=site, media=media)
    poller = BackendPoller(app.backend, core.pending_task_ids, core.on_result)
    notifications = attach_notifications(core, notify, tuple(camera for camera, _ in sources))
    service = StreamService(core, {"feed": _AlwaysConnected(), "results": poller}, host, port, auth, notifications)
    service.start()

    daemons = [
        CaptureDaemon(
            camera=camera, source=source, algorithms=settings.algorithms,
            dispatcher=FrameDispatcher(app, settings, feed=core.on_feed), settings=settings,
            fps=fps, max_frames=max_frames, loop=loop, fast=fast,
        )
        for camera, source in sources
    ]
    if site is not None:
        from vigil.capture.site import camera_daemon

        site_here = site.model_copy(update={"settings": settings})  # the in-memory broker and backend
        daemons += [
            camera_daemon(site_here, name, FrameDispatcher(app, settings, feed=core.on_feed), fps=fps, loop=loop,
                          max_frames=max_frames, fast=fast)
            for name in site.cameras
        ]
    errors: list[BaseException] = []
    started = time.time()
    threads = [
        threading.Thread(target=_capture, args=(daemon, stop, errors), name=f"capture-{daemon.camera}", daemon=True)
        for daemon in daemons
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive() and not stop.is_set():
                thread.join(0.2)
        _drain(core, settings.result_deadline + 1.0, stop)
    finally:
        service.stop()
        worker.stop(in_sighandler=False)
        worker_thread.join(timeout=5)
    if errors:
        raise errors[0]
    return build_report(core, recorder or MemoryRecorder(), [daemon.stats for daemon in daemons],
                        time.time() - started, settings)


def _capture(daemon: CaptureDaemon, stop: threading.Event, errors: list[BaseException]) -> None:
    try:
        daemon.run(stop)
    except Exception as exc:
        log.error("camera %s failed: %s", daemon.camera, exc)
        errors.append(exc)


def _drain(core: StreamCore, timeout: float, stop: threading.Event) -> None:
    """Wait until every captured frame was emitted (its results in, or its deadline passed)."""
    deadline = time.monotonic() + timeout
    while not core.idle() and time.monotonic() < deadline and not stop.is_set():
        time.sleep(0.02)
    core.process()


def build_report(core: StreamCore, recorder: MemoryRecorder, capture: list[CaptureStats], elapsed: float,
                 settings: Settings) -> dict[str, Any]:
    frames = recorder.frames
    counters = dataclasses.asdict(core.counters())
    algorithms: dict[str, dict[str, list[float]]] = {}
    for frame in frames:
        for name, result in frame["results"].items():
            timings = result.get("timings") or {}
            series = algorithms.setdefault(name, {"queue_wait": [], "detect": [], "decode": []})
            for key in series:
                if key in timings:
                    series[key].append(timings[key])
    return {
        "elapsed": elapsed,
        "algorithms": list(settings.algorithms),
        "capture": [stats.to_dict() for stats in capture],
        "counters": counters,
        "latency": {
            # Without a recorder only the latest frames' latencies are kept (bounded memory).
            "end_to_end": summarize(frame["latency"] for frame in frames) if frames
            else summarize(core.recent_latencies),
            "by_algorithm": {name: {key: summarize(values) for key, values in series.items()}
                             for name, series in algorithms.items()},
        },
        "frames_emitted": counters["emitted_complete"] + counters["emitted_incomplete"],
        "frames_complete": counters["emitted_complete"],
        "event_count": core.events.count,
        "incident_count": core.events.incidents,
        "events": recorder.events,
        "frames": frames,
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, allow_nan=True), encoding="utf-8")
