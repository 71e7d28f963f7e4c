"""Scenario 5, scale-out: tasks per second as a worker's slots grow, with a detector that waits
(I/O-like), so the slots, not the CPU, are what is measured."""

from __future__ import annotations

import time
from typing import Any

from vigil.bench.deployment import finish, pipeline, record_path, start_captures
from vigil.bench.options import Options
from vigil.bench.report import spread
from vigil.stats import summarize


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
