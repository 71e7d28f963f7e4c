"""Scenario 4, overload: a detector slower than the camera, with Vigil's bounded queues and with an
unbounded queue (prefetch 4), in the same run: how latency grows, or does not, over time."""

from __future__ import annotations

import threading
import time
from typing import Any

from vigil.bench.deployment import capture_stats, finish, pipeline, record_path, reset_broker, start_captures
from vigil.bench.options import Options, sample_image
from vigil.bench.processes import BenchProcess, bench_env, celery_command
from vigil.bench.report import spread
from vigil.frames import encode_frame
from vigil.messages import DetectionResult, TaskRef, task_id
from vigil.stats import summarize

WINDOW = 5.0


def by_window(points: list[tuple[float, float]], start: float) -> dict[int, dict[str, float]]:
    windows: dict[int, list[float]] = {}
    for captured_at, latency in points:
        windows.setdefault(int((captured_at - start) // WINDOW), []).append(latency)
    return {index: summarize(values) for index, values in sorted(windows.items()) if index >= 0}


def _overload_vigil(options: Options, rep: int) -> dict[str, Any]:
    name = f"overload-bounded-{rep}"
    with pipeline(options.target, name, override="busy:50", queues=("fall",), pool="threads",
                  concurrency=1) as (env, _):
        capture = start_captures(env, options.target.work_dir / name, 1, "synthetic", ("fall",), ["--fps", "30"])[0]
        started = time.time()
        time.sleep(options.duration)
        capture.stop()
        frames = [f for f in finish(record_path(options.target, name), 3.0) if f["captured_at"] >= started]
    done = [(f["captured_at"], f["latency"]) for f in frames if f["complete"]]
    stats = capture_stats(capture)
    return {"latency": summarize(latency for _, latency in done), "windows": by_window(done, started),
            "captured": stats["captured"], "processed": len(done),
            "dropped_share": 1 - len(done) / max(1, stats["captured"])}


def _overload_unbounded(options: Options, rep: int) -> dict[str, Any]:
    from vigil.bench.unbounded import TASK_NAME, UNBOUNDED_QUEUE, app
    from vigil.stream.results import RedisResultListener

    target = options.target
    reset_broker(target, (UNBOUNDED_QUEUE,))
    log_dir = target.work_dir / f"overload-unbounded-{rep}"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = bench_env(target.broker_url, target.result_backend, detector_override="busy:50")
    worker = BenchProcess("worker", celery_command("vigil.bench.unbounded", "worker", "-Q", UNBOUNDED_QUEUE, "-P",
                                                   "threads", "-c", "1", "-l", "INFO", "--without-mingle",
                                                   "--without-gossip", "-n", f"bench-unbounded-{rep}@%h"), env, log_dir)
    received: dict[int, tuple[float, float]] = {}
    stop = threading.Event()

    def on_result(ref: TaskRef, result: DetectionResult) -> None:
        captured_at = result.captured_at or 0.0
        received[ref.seq] = (captured_at, time.time() - captured_at)

    listener = RedisResultListener(target.result_backend, on_result)
    thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
    try:
        worker.wait_for("ready.", 90)
        thread.start()
        listener.connected.wait(10)
        image = sample_image("synthetic")
        app.conf.broker_url, app.conf.result_backend = target.broker_url, target.result_backend
        started = time.time()
        seq = 0
        with app.producer_or_acquire() as producer:
            while time.time() - started < options.duration:
                frame = encode_frame(image, camera="over", session=1, seq=seq, captured_at=time.time(), quality=80,
                                     max_bytes=8 << 20)
                app.send_task(TASK_NAME, args=(frame.to_payload(),), task_id=task_id("over", 1, seq, "fall"),
                              queue=UNBOUNDED_QUEUE, producer=producer)
                seq += 1
                time.sleep(max(0.0, started + seq / 30 - time.time()))
        drain_deadline = time.time() + options.duration + 30
        while len(received) < seq and time.time() < drain_deadline:
            time.sleep(0.2)
        drained_after = time.time() - (started + options.duration)
    finally:
        stop.set()
        worker.stop()
        reset_broker(target, (UNBOUNDED_QUEUE,))
    done = sorted(received.values())
    return {"latency": summarize(latency for _, latency in done), "windows": by_window(done, started),
            "captured": seq, "processed": len(done), "dropped_share": 1 - len(done) / max(1, seq),
            "drained_after": drained_after}


def overload(options: Options) -> dict[str, Any]:
    bounded, unbounded = [], []
    for rep in range(options.repeat):
        options.progress(f"overload: repetition {rep + 1}/{options.repeat}: Vigil (bounded queue)")
        bounded.append(_overload_vigil(options, rep))
        options.progress(f"overload: repetition {rep + 1}/{options.repeat}: unbounded queue, prefetch 4")
        unbounded.append(_overload_unbounded(options, rep))
    summary = [
        ["latency p50 ms", spread([r["latency"]["p50"] for r in bounded], 1000),
         spread([r["latency"]["p50"] for r in unbounded], 1000)],
        ["latency p99 ms", spread([r["latency"]["p99"] for r in bounded], 1000),
         spread([r["latency"]["p99"] for r in unbounded], 1000)],
        ["latency max ms", spread([r["latency"]["max"] for r in bounded], 1000),
         spread([r["latency"]["max"] for r in unbounded], 1000)],
        ["frames dropped %", spread([100 * r["dropped_share"] for r in bounded]),
         spread([100 * r["dropped_share"] for r in unbounded])],
        ["frames processed", spread([r["processed"] for r in bounded], digits=0),
         spread([r["processed"] for r in unbounded], digits=0)],
    ]
    windows = sorted({w for run in bounded + unbounded for w in run["windows"]})
    by_window = [
        [f"{w * WINDOW:.0f}-{(w + 1) * WINDOW:.0f} s",
         spread([r["windows"][w]["p50"] for r in bounded if w in r["windows"]], 1000),
         spread([r["windows"][w]["p99"] for r in bounded if w in r["windows"]], 1000),
         spread([r["windows"][w]["p50"] for r in unbounded if w in r["windows"]], 1000),
         spread([r["windows"][w]["p99"] for r in unbounded if w in r["windows"]], 1000)]
        for w in windows
    ]
    title = f"4. Overload: 50 ms CPU detector, 1 worker slot, 1 camera at 30 fps for {options.duration:.0f} s"
    return {
        "tables": [
            (title, ["measure", "Vigil (bounded, drop-head, TTL)", "unbounded, prefetch 4"], summary),
            ("4b. Overload latency by 5-second window of capture time (ms)",
             ["window", "Vigil p50", "Vigil p99", "unbounded p50", "unbounded p99"], by_window),
        ],
        "data": {"bounded": bounded, "unbounded": unbounded},
    }
