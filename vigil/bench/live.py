"""Scenario 3, live latency: cameras at 15 fps through the whole pipeline, and the measured window
that the notify and capacity scenarios reuse."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from vigil.bench.deployment import Target, capture_stats, finish, pipeline, record_path, start_captures
from vigil.bench.options import ALL, Options
from vigil.bench.processes import BenchProcess
from vigil.bench.report import spread
from vigil.stats import summarize

WARM_UP = 3.0  # seconds before the window: models load, connections open


@dataclass(frozen=True)
class LiveConfig:
    label: str
    override: str
    pool: str
    concurrency: int
    settings: tuple[tuple[str, str], ...] = ()


def busy_cores(before: Any, after: Any, seconds: float) -> float:
    """Cores the whole machine kept busy between two ``psutil.cpu_times()`` (every process, ours or not)."""
    def idle(times: Any) -> float:
        return float(times.idle + getattr(times, "iowait", 0.0))

    busy = (sum(after) - idle(after)) - (sum(before) - idle(before))
    return busy / seconds


def frame_counts(frames: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Frames, incomplete frames and tasks asked, from the streamer's recorded frames.

    A frame is incomplete when an algorithm it asked for has no result (``missing``); with
    per-algorithm rates a frame asks for some algorithms only, and the others count for nothing.
    """
    return {
        "frames": len(frames),
        "incomplete": sum(1 for frame in frames if frame["missing"]),
        "tasks_asked": sum(len(set(frame["results"]) | set(frame["missing"])) for frame in frames),
    }


def measure_window(target: Target, name: str, procs: dict[str, BenchProcess], captures: Sequence[BenchProcess],
                   duration: float, warm_up: float = WARM_UP) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Measure ``duration`` seconds of started captures feeding a started pipeline, after ``warm_up``;
    the captures are stopped at the end.

    Returns:
        The streamer's frames captured in the window, and their summary: frame counts, latencies,
        CPU in cores per process (``machine``: the whole machine's busy cores).
    """
    time.sleep(warm_up)
    window_start = time.time()
    for process in [*procs.values(), *captures]:
        process.mark()
    machine_before = psutil.cpu_times()
    time.sleep(duration)
    window_end = time.time()
    seconds = window_end - window_start
    cpu = {key: process.cpu_share(seconds) for key, process in procs.items()}
    cpu["captures"] = sum(c.cpu_share(seconds) for c in captures)
    cpu["machine"] = busy_cores(machine_before, psutil.cpu_times(), seconds)
    for capture in captures:
        capture.stop()
    recorded = finish(record_path(target, name), 3.0)
    frames = [f for f in recorded if window_start <= f["captured_at"] <= window_end]
    results = [r for f in frames for r in f["results"].values() if r.get("timings")]
    return frames, {
        **frame_counts(frames),
        "seconds": seconds,
        "capture_dropped": sum(capture_stats(c)["dropped"] for c in captures),
        "end_to_end": summarize(f["latency"] for f in frames),
        "queue_wait": summarize(r["timings"]["queue_wait"] for r in results),
        "detect": summarize(r["timings"]["detect"] for r in results),
        "cpu": cpu,
    }


def live_window(options: Options, name: str, env: dict[str, str], procs: dict[str, BenchProcess], cameras: int,
                source: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run ``cameras`` captures of ``source`` at 15 fps, every algorithm on every frame, into a started
    pipeline; measure a window of ``options.duration`` seconds after a warm-up (:func:`measure_window`).
    """
    log_dir = options.target.work_dir / name
    captures = start_captures(env, log_dir, cameras, source, ALL, ["--fps", "15", "--loop"])
    return measure_window(options.target, name, procs, captures, options.duration)


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
