"""The benchmark's scenarios; 6 (publish) and 7 (notify) have modules of their own.

Each returns {"tables": [...], "data": {...}}.

Every comparison alternates A and B within the same run and repeats ``repeat`` times;
tables show medians with the (min-max) spread.
"""

from __future__ import annotations

import json
import math
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import msgpack
import numpy as np

from vigil.bench import naive
from vigil.bench.deployment import (
    Target,
    capture_stats,
    finish,
    pipeline,
    record_path,
    reset_broker,
    start_captures,
)
from vigil.bench.processes import BenchProcess, bench_env, celery_command, python_command
from vigil.bench.report import spread
from vigil.capture.sources import open_source
from vigil.detectors.registry import BUILTIN
from vigil.frames import Frame, decode_frame, encode_frame
from vigil.messages import DetectionResult, TaskRef, task_id
from vigil.stats import summarize

Table = tuple[str, list[str], list[list[Any]]]
ALL = tuple(BUILTIN)
NULL_DETECT_TIMEOUT = 300


@dataclass
class Options:
    target: Target
    repeat: int = 3
    duration: float = 30.0
    source: str = "synthetic"  # a clip for live scenarios, or the synthetic scene
    throughput_frames: int = 1500
    naive_frames: int = 10
    scale_slots: tuple[int, ...] = (1, 2, 4, 8)
    real_detectors: bool = True
    # Four slots take a frame's four tasks at once; each task mostly waits on Redis and the broker.
    live_pool: str = "prefork"  # for the null detector; real detectors use prefork -c 2 (CPU-bound)
    live_concurrency: int = 4
    progress: Callable[[str], None] = print


def sample_image(source: str) -> np.ndarray:
    video = open_source(source)
    try:
        image = video.read()
    finally:
        video.close()
    if image is None:
        raise ValueError(f"{source} has no frame")
    return cv2.resize(image, (640, 480), interpolation=cv2.INTER_AREA)


def _median_ms(function: Callable[[], Any], iterations: int) -> float:
    times = []
    for _ in range(iterations):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


# -- 1. wire cost ------------------------------------------------------------------------

def wire(options: Options) -> dict[str, Any]:
    image = sample_image(options.source)
    frame = encode_frame(image, camera="bench", session=1, seq=1, captured_at=time.time(), quality=80,
                         max_bytes=8 << 20)
    vigil_bytes = len(msgpack.packb(frame.to_payload()))
    naive_bytes = len(naive.encode_naive(image))

    def vigil_encode() -> bytes:
        return msgpack.packb(encode_frame(image, camera="bench", session=1, seq=1, captured_at=0.0, quality=80,
                                          max_bytes=8 << 20).to_payload())

    wire_bytes = vigil_encode()

    def vigil_decode() -> np.ndarray:
        return decode_frame(Frame.from_payload(msgpack.unpackb(wire_bytes), max_bytes=8 << 20))

    naive_wire = naive.encode_naive(image)
    runs: dict[str, list[float]] = {key: [] for key in ("vigil_encode", "vigil_decode", "naive_encode", "naive_decode")}
    for rep in range(options.repeat):
        options.progress(f"wire: repetition {rep + 1}/{options.repeat}")
        runs["vigil_encode"].append(_median_ms(vigil_encode, 50))
        runs["naive_encode"].append(_median_ms(lambda: naive.encode_naive(image), 3))
        runs["vigil_decode"].append(_median_ms(vigil_decode, 50))
        runs["naive_decode"].append(_median_ms(lambda: naive.decode_naive(naive_wire), 3))
    med = {key: statistics.median(values) for key, values in runs.items()}
    codec_ratio = (med["naive_encode"] + med["naive_decode"]) / (med["vigil_encode"] + med["vigil_decode"])
    rows = [
        ["bytes per frame", f"{vigil_bytes:,}", f"{naive_bytes:,}", f"{naive_bytes / vigil_bytes:.0f}x"],
        ["encode ms (resize+JPEG+msgpack / tolist+dumps)", spread(runs["vigil_encode"], digits=2),
         spread(runs["naive_encode"]), f"{med['naive_encode'] / med['vigil_encode']:.0f}x"],
        ["decode ms (unpack+JPEG / loads+np.array)", spread(runs["vigil_decode"], digits=2),
         spread(runs["naive_decode"]), f"{med['naive_decode'] / med['vigil_decode']:.0f}x"],
        ["codec CPU ms per frame (encode+decode)", f"{med['vigil_encode'] + med['vigil_decode']:.2f}",
         f"{med['naive_encode'] + med['naive_decode']:.0f}", f"{codec_ratio:.0f}x"],
    ]
    return {
        "tables": [("1. Wire cost of one 640x480 frame", ["measure", "Vigil", "naive JSON list", "ratio"], rows)],
        "data": {"vigil_bytes": vigil_bytes, "naive_bytes": naive_bytes, "runs_ms": runs,
                 "bytes_ratio": naive_bytes / vigil_bytes, "codec_cpu_ratio": codec_ratio},
    }


# -- 2. throughput -----------------------------------------------------------------------

def _window(frames: list[dict[str, Any]]) -> tuple[int, float]:
    complete = [f for f in frames if f["complete"]]
    if len(complete) < 2:
        return len(complete), math.nan
    elapsed = max(f["emitted_at"] for f in complete) - min(f["captured_at"] for f in complete)
    return len(complete), elapsed


def vigil_throughput(options: Options, rep: int, pool: str, concurrency: int) -> dict[str, Any]:
    name = f"throughput-{pool}{concurrency}-{rep}"
    # A backlog is the point here: queues long enough that --fast drops nothing, frame age generous.
    settings = {"queue_max_length": "100000", "feed_max_length": "100000", "max_frame_age": "60",
                "result_deadline": "30"}
    with pipeline(options.target, name, override="null", queues=("fall",), pool=pool,
                  concurrency=concurrency, settings=settings) as (env, processes):
        log_dir = options.target.work_dir / name
        capture = start_captures(env, log_dir, 1, options.source, ("fall",),
                                 ["--fast", "--loop", "--max-frames", str(options.throughput_frames)])[0]
        for process in processes.values():
            process.mark()
        started = time.time()
        capture.wait(NULL_DETECT_TIMEOUT)
        frames = _wait_for_frames(record_path(options.target, name), stats_total=options.throughput_frames, timeout=120)
        seconds = max(f["emitted_at"] for f in frames) - started if frames else time.time() - started
        cpu = {key: process.cpu_share(seconds) for key, process in processes.items()}
    stats = capture_stats(capture)
    complete, elapsed = _window(frames)
    return {"fps": complete / elapsed if elapsed else math.nan, "complete": complete, "emitted": len(frames),
            "capture": stats, "cpu": cpu, "latency": summarize(f["latency"] for f in frames if f["complete"])}


def _wait_for_frames(record: Path, stats_total: int, timeout: float) -> list[dict[str, Any]]:
    """The streamer's frames once all arrived or none came for two seconds."""
    deadline = time.time() + timeout
    frames = finish(record, 0.5)
    while len(frames) < stats_total and time.time() < deadline:
        newer = finish(record, 2.0)
        if len(newer) == len(frames):
            break
        frames = newer
    return frames


def naive_throughput(options: Options, rep: int) -> dict[str, Any]:
    log_dir = options.target.work_dir / f"naive-{rep}"
    log_dir.mkdir(parents=True, exist_ok=True)
    url = options.target.broker_url
    naive.purge(url)
    env = bench_env(options.target.broker_url, options.target.result_backend)
    count = str(options.naive_frames)
    consumer = BenchProcess("naive-consumer", python_command("-m", "vigil.bench.naive", "consumer", "--url", url,
                                                             "--count", count), env, log_dir)
    time.sleep(1.0)
    producer = BenchProcess("naive-producer", python_command("-m", "vigil.bench.naive", "producer", "--url", url,
                                                             "--count", count, "--source", options.source),
                           env, log_dir)
    consumer.wait(NULL_DETECT_TIMEOUT)
    producer.stop()
    consumer.stop()
    result = json.loads(consumer.output().strip().splitlines()[-1])
    return {"fps": result["frames"] / result["elapsed"], "frames": result["frames"],
            "latency": summarize(result["latencies"]), "empty_polls": result["empty_polls"]}


def throughput(options: Options, pool: str = "threads", concurrency: int = 1) -> dict[str, Any]:
    vigil_runs, naive_runs = [], []
    for rep in range(options.repeat):
        options.progress(f"throughput: repetition {rep + 1}/{options.repeat}: Vigil")
        vigil_runs.append(vigil_throughput(options, rep, pool, concurrency))
        options.progress(f"throughput: repetition {rep + 1}/{options.repeat}: naive (pika + JSON + basic_get)")
        naive_runs.append(naive_throughput(options, rep))
    vigil_fps = [run["fps"] for run in vigil_runs]
    naive_fps = [run["fps"] for run in naive_runs]
    ratio = statistics.median(vigil_fps) / statistics.median(naive_fps)
    rows = [
        ["frames/s end to end (1 algorithm, null detector)", spread(vigil_fps), spread(naive_fps, digits=2),
         f"{ratio:.0f}x"],
        ["latency p50 ms", spread([r["latency"]["p50"] for r in vigil_runs], 1000),
         spread([r["latency"]["p50"] for r in naive_runs], 1000), ""],
        ["frames measured per run", spread([r["complete"] for r in vigil_runs], digits=0),
         spread([r["frames"] for r in naive_runs], digits=0), ""],
        ["worker CPU (cores)", spread([r["cpu"]["worker"] for r in vigil_runs], digits=2), "", ""],
        ["streamer CPU (cores)", spread([r["cpu"]["streamer"] for r in vigil_runs], digits=2), "", ""],
    ]
    title = (f"2. Throughput, {Path(options.source).name} --fast (640 px wide), one algorithm, "
             f"worker -P {pool} -c {concurrency}")
    return {"tables": [(title, ["measure", "Vigil", "naive", "ratio"], rows)],
            "data": {"vigil": vigil_runs, "naive": naive_runs, "ratio": ratio}}


# -- 3. live latency ---------------------------------------------------------------------

@dataclass(frozen=True)
class LiveConfig:
    label: str
    override: str
    pool: str
    concurrency: int
    settings: tuple[tuple[str, str], ...] = ()


def live_window(options: Options, name: str, env: dict[str, str], procs: dict[str, BenchProcess], cameras: int,
                source: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run ``cameras`` captures of ``source`` at 15 fps into a started pipeline; measure a window of
    ``options.duration`` seconds after a warm-up.

    Returns:
        The streamer's frames captured in the window, and their summary (latencies, CPU, drops).
    """
    log_dir = options.target.work_dir / name
    captures = start_captures(env, log_dir, cameras, source, ALL, ["--fps", "15", "--loop"])
    time.sleep(3.0)  # warm-up: models load, connections open
    window_start = time.time()
    for process in [*procs.values(), *captures]:
        process.mark()
    time.sleep(options.duration)
    window_end = time.time()
    cpu = {key: process.cpu_share(window_end - window_start) for key, process in procs.items()}
    cpu["captures"] = sum(c.cpu_share(window_end - window_start) for c in captures)
    for capture in captures:
        capture.stop()
    recorded = finish(record_path(options.target, name), 3.0)
    frames = [f for f in recorded if window_start <= f["captured_at"] <= window_end]
    results = [r for f in frames for r in f["results"].values() if r.get("timings")]
    return frames, {
        "frames": len(frames),
        "incomplete": sum(1 for f in frames if not f["complete"]),
        "capture_dropped": sum(capture_stats(c)["dropped"] for c in captures),
        "end_to_end": summarize(f["latency"] for f in frames),
        "queue_wait": summarize(r["timings"]["queue_wait"] for r in results),
        "detect": summarize(r["timings"]["detect"] for r in results),
        "cpu": cpu,
    }


def _live_run(options: Options, config: LiveConfig, cameras: int, rep: int) -> dict[str, Any]:
    name = f"live-{config.label.replace(' ', '-')}-{cameras}cam-{rep}"
    with pipeline(options.target, name, override=config.override, queues=ALL, pool=config.pool,
                  concurrency=config.concurrency, settings=dict(config.settings)) as (env, procs):
        _, summary = live_window(options, name, env, procs, cameras, options.source)
    return summary


def live(options: Options) -> dict[str, Any]:
    pool, slots = options.live_pool, options.live_concurrency
    configs = [
        LiveConfig(f"null, -P {pool} -c {slots}", "null", pool, slots),
        # What the per-task events cost: the same, without them (Flower then sees no tasks).
        LiveConfig(f"null, -P {pool} -c {slots}, no task events", "null", pool, slots, (("task_events", "false"),)),
    ]
    if options.real_detectors:
        configs.append(LiveConfig("real detectors, -P prefork -c 2", "", "prefork", 2))
    runs: dict[str, list[dict[str, Any]]] = {}
    for rep in range(options.repeat):
        for config in configs:
            for cameras in (2, 4):
                key = f"{config.label}; {cameras} cameras x 15 fps x 4 algorithms ({cameras * 60} tasks/s)"
                options.progress(f"live: repetition {rep + 1}/{options.repeat}: {key}")
                runs.setdefault(key, []).append(_live_run(options, config, cameras, rep))
    rows = []
    for key, reps in runs.items():
        rows.append([
            key,
            spread([r["end_to_end"]["p50"] for r in reps], 1000),
            spread([r["end_to_end"]["p95"] for r in reps], 1000),
            spread([r["end_to_end"]["p99"] for r in reps], 1000),
            spread([r["queue_wait"]["p50"] for r in reps], 1000),
            spread([r["queue_wait"]["p99"] for r in reps], 1000),
            spread([r["detect"]["p50"] for r in reps], 1000),
            spread([r["detect"]["p99"] for r in reps], 1000),
            spread([100 * r["incomplete"] / max(1, r["frames"]) for r in reps]),
            spread([r["capture_dropped"] for r in reps], digits=0),
            spread([r["cpu"]["worker"] for r in reps], digits=2),
            spread([r["cpu"]["streamer"] for r in reps], digits=2),
            spread([r["cpu"]["captures"] for r in reps], digits=2),
        ])
    headers = ["configuration", "e2e p50 ms", "e2e p95 ms", "e2e p99 ms", "queue wait p50 ms", "queue wait p99 ms",
               "detect p50 ms", "detect p99 ms", "frames incomplete %", "dropped at capture",
               "worker CPU", "streamer CPU", "captures CPU"]
    title = f"3. Live latency ({options.duration:.0f} s per run, source {Path(options.source).name})"
    return {"tables": [(title, headers, rows)], "data": runs}


# -- 4. overload -------------------------------------------------------------------------

WINDOW = 5.0


def _by_window(points: list[tuple[float, float]], start: float) -> dict[int, dict[str, float]]:
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
    return {"latency": summarize(latency for _, latency in done), "windows": _by_window(done, started),
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
    return {"latency": summarize(latency for _, latency in done), "windows": _by_window(done, started),
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


# -- 5. scale-out ------------------------------------------------------------------------

def _scale_run(options: Options, slots: int, rep: int) -> dict[str, Any]:
    name = f"scale-{slots}-{rep}"
    rate = max(30, 30 * slots)  # 1.5x what the slots can take, so they never starve
    with pipeline(options.target, name, override="sleep:50", queues=("fall",), pool="threads",
                  concurrency=slots) as (env, procs):
        capture = start_captures(env, options.target.work_dir / name, 1, f"synthetic:320x240@{rate}", ("fall",),
                                 [])[0]
        time.sleep(2.0)
        window_start = time.time()
        procs["worker"].mark()
        time.sleep(options.duration)
        window_end = time.time()
        cpu = procs["worker"].cpu_share(window_end - window_start)
        capture.stop()
        frames = finish(record_path(options.target, name), 2.0)
    done = [f for f in frames if f["complete"] and window_start <= f["captured_at"] <= window_end]
    rate_measured = len(done) / (window_end - window_start)
    return {"tasks_per_s": rate_measured, "efficiency": rate_measured / (slots * 20.0), "worker_cpu": cpu,
            "latency": summarize(f["latency"] for f in done)}


def scale_out(options: Options) -> dict[str, Any]:
    runs: dict[int, list[dict[str, Any]]] = {slots: [] for slots in options.scale_slots}
    for rep in range(options.repeat):
        for slots in options.scale_slots:
            options.progress(f"scale-out: repetition {rep + 1}/{options.repeat}: {slots} slots")
            runs[slots].append(_scale_run(options, slots, rep))
    rows = [
        [f"{slots} thread{'s' if slots > 1 else ''}", f"{slots * 20}",
         spread([r["tasks_per_s"] for r in reps]),
         spread([100 * r["efficiency"] for r in reps]),
         spread([r["latency"]["p50"] for r in reps], 1000),
         spread([r["worker_cpu"] for r in reps], digits=2)]
        for slots, reps in runs.items()
    ]
    title = (f"5. Scale-out: detector waiting 50 ms (I/O-like), worker -P threads -c N, "
             f"{options.duration:.0f} s per run")
    return {"tables": [(title, ["worker slots", "ideal tasks/s", "tasks/s", "efficiency %", "e2e p50 ms",
                                "worker CPU"], rows)],
            "data": {str(slots): reps for slots, reps in runs.items()}}


def _publish(options: Options) -> dict[str, Any]:
    from vigil.bench.publish import publish

    return publish(options)


def _notify(options: Options) -> dict[str, Any]:
    from vigil.bench.notify import notify

    return notify(options)


SCENARIOS: dict[str, Callable[[Options], dict[str, Any]]] = {
    "wire": wire,
    "throughput": throughput,
    "live": live,
    "overload": overload,
    "scale": scale_out,
    "publish": _publish,
    "notify": _notify,
}
