"""Scenario 6: what publishing one frame costs, with and without publisher confirms.

The capture daemon sends each frame as one task per algorithm plus one feed message. With
confirms, each publish waits for RabbitMQ's ack, so "sent" counts only what the broker
took. This measures that wait in one capture thread, in the same run as the naive design's
single publish of the frame as a JSON list (pika, no confirms).
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from vigil.bench import naive
from vigil.bench.deployment import reset_broker
from vigil.bench.report import spread
from vigil.frames import encode_frame
from vigil.messages import CaptureStats
from vigil.stats import summarize

if TYPE_CHECKING:
    from vigil.bench.options import Options

FRAMES = 300
NAIVE_FRAMES = 10


def publish(options: Options) -> dict[str, Any]:
    from vigil.app import create_app
    from vigil.bench.options import ALL, sample_image
    from vigil.capture.dispatch import FrameDispatcher
    from vigil.settings import Settings

    target = options.target
    settings = Settings.load(environ={"VIGIL_BROKER_URL": target.broker_url,
                                      "VIGIL_RESULT_BACKEND": target.result_backend})
    app = create_app(settings)
    image = sample_image(options.source)
    frame = encode_frame(image, camera="publish", session=1, seq=0, captured_at=time.time(), quality=80,
                         max_bytes=settings.max_payload_bytes)
    stats = CaptureStats(camera="publish")
    runs: dict[str, list[dict[str, float]]] = {"unconfirmed": [], "confirmed": [], "naive": []}
    for rep in range(options.repeat):
        for confirm in (False, True):  # alternated within each repetition: the machine's noise hits both
            options.progress(f"publish: repetition {rep + 1}/{options.repeat}, confirms {'on' if confirm else 'off'}")
            reset_broker(target)
            dispatcher = FrameDispatcher(app, settings, confirm=confirm)
            dispatcher.send(frame, ALL, stats)  # connect and declare outside the measurement
            times = []
            for seq in range(1, FRAMES + 1):
                numbered = dataclasses.replace(frame, seq=seq, captured_at=time.time())
                started = time.perf_counter()
                dispatcher.send(numbered, ALL, stats)
                times.append(time.perf_counter() - started)
            dispatcher.close()
            runs["confirmed" if confirm else "unconfirmed"].append(summarize(times))
        options.progress(f"publish: repetition {rep + 1}/{options.repeat}, naive")
        runs["naive"].append(summarize(_naive_publish_times(target.broker_url, image)))
    reset_broker(target)
    naive.purge(target.broker_url)

    def column(key: str, stat: str, scale: float = 1000) -> str:
        return spread([run[stat] for run in runs[key]], scale)

    def med(key: str, stat: str) -> float:
        values = sorted(run[stat] for run in runs[key])
        return values[len(values) // 2]

    rows = [
        ["publish p50 ms per frame", column("unconfirmed", "p50"), column("confirmed", "p50"), column("naive", "p50"),
         f"{med('confirmed', 'p50') / med('unconfirmed', 'p50'):.1f}x"],
        ["publish p99 ms per frame", column("unconfirmed", "p99"), column("confirmed", "p99"), column("naive", "p99"),
         f"{med('confirmed', 'p99') / med('unconfirmed', 'p99'):.1f}x"],
        ["frames/s one thread can send (1 / p50)", f"{1 / med('unconfirmed', 'p50'):.0f}",
         f"{1 / med('confirmed', 'p50'):.0f}", f"{1 / med('naive', 'p50'):.0f}", ""],
    ]
    title = (f"6. Publishing one frame: {len(ALL)} tasks + the feed message, {FRAMES} frames per run "
             f"(naive: the frame as one JSON list, {NAIVE_FRAMES} frames)")
    headers = ["measure", "Vigil, no confirms", "Vigil, confirms (default)", "naive JSON list", "confirms / none"]
    return {"tables": [(title, headers, rows)], "data": runs}


def _naive_publish_times(url: str, image: Any) -> list[float]:
    import json

    import pika

    connection = pika.BlockingConnection(pika.URLParameters(naive.pika_url(url)))
    try:
        channel = connection.channel()
        channel.queue_declare(naive.NAIVE_QUEUE)
        times = []
        for seq in range(NAIVE_FRAMES):
            started = time.perf_counter()
            body = json.dumps({"seq": seq, "t": time.time(), "frame": image.tolist()}).encode()
            channel.basic_publish("", naive.NAIVE_QUEUE, body)
            times.append(time.perf_counter() - started)
        channel.queue_purge(naive.NAIVE_QUEUE)
        return times
    finally:
        connection.close()
