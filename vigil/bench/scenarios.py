"""The benchmark's scenarios, by name (:data:`SCENARIOS`), and the first two: wire cost and throughput.

The others have modules of their own: 3 ``live``, 4 ``overload``, 5 ``scale``, 6 ``publish``,
7 ``notify``, 8 ``capacity``. Each returns {"tables": [...], "data": {...}}.

Every comparison alternates A and B within the same run and repeats ``repeat`` times;
tables show medians with the (min-max) spread.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from vigil.bench import naive
from vigil.bench.capacity import capacity
from vigil.bench.deployment import capture_stats, finish, pipeline, record_path, start_captures
from vigil.bench.live import live
from vigil.bench.options import Options, sample_image
from vigil.bench.overload import overload
from vigil.bench.processes import BenchProcess, bench_env, python_command
from vigil.bench.report import spread
from vigil.bench.scale import scale_out
from vigil.frames import Frame, decode_frame, encode_frame
from vigil.stats import summarize

NULL_DETECT_TIMEOUT = 300


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
    "capacity": capacity,
}
