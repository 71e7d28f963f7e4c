"""The soak test: the whole pipeline left running, its resources read at the start and the end.

Cameras capture a looped clip at a fixed rate, every algorithm on every frame, through a real
worker and streamer against RabbitMQ and Redis (the null detector: the soak is about the
pipeline, not the models). After a warm-up (long enough for results to start expiring from
Redis, so its memory has reached its steady state) the memory (PSS, children included) and open
file descriptors of every process, Redis' memory and key count and the algorithm queues'
depths are read; again at the end. Anything that grew by more than the allowed share after
warm-up is a leak to find. ``scripts/soak.py`` runs it (10 minutes by default); CI runs 2.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import redis
from kombu import Connection

from vigil.bench.deployment import ALL_QUEUES, Target, pipeline, start_captures
from vigil.bench.processes import BenchProcess
from vigil.queues import queue_depths

ALLOWED_GROWTH = 0.10
# Counts so small that one more is not a trend (a socket opened by a reconnect, a queued frame).
GROWTH_FLOOR = {"fds": 8, "queued": 8, "redis_keys": 200}


@dataclasses.dataclass(frozen=True)
class Reading:
    """One look at the running pipeline."""

    at: float
    memory: dict[str, int]  # process name -> PSS bytes, its children included
    fds: dict[str, int]  # process name -> open file descriptors, its children included
    redis_memory: int
    redis_keys: int
    queued: int  # ready messages in the algorithm queues


@dataclasses.dataclass(frozen=True)
class Growth:
    name: str
    start: float
    end: float
    allowed: float

    @property
    def ok(self) -> bool:
        return self.end <= self.allowed

    @property
    def ratio(self) -> float:
        return self.end / self.start if self.start else float("inf") if self.end else 1.0


def _tree(process: BenchProcess) -> list[psutil.Process]:
    root = psutil.Process(process.popen.pid)
    return [root, *root.children(recursive=True)]


def read(processes: dict[str, BenchProcess], target: Target, client: redis.Redis) -> Reading:
    memory, fds = {}, {}
    for name, process in processes.items():
        tree = _tree(process)
        memory[name] = sum(p.memory_full_info().pss for p in tree)
        fds[name] = sum(p.num_fds() for p in tree)
    info = client.info("memory")
    with Connection(target.broker_url, connect_timeout=5) as connection:
        queued = sum(depth.messages for depth in queue_depths(connection, ALL_QUEUES).values())
    return Reading(time.time(), memory, fds, int(info["used_memory"]), int(client.dbsize()), queued)


def growth(start: Reading, end: Reading, allowed: float = ALLOWED_GROWTH) -> list[Growth]:
    """Each measured quantity, start to end, with the most it may reach."""
    rows = []
    for name in start.memory:
        rows.append(Growth(f"{name} memory (MiB)", start.memory[name] / 2**20, end.memory[name] / 2**20,
                           start.memory[name] / 2**20 * (1 + allowed)))
        rows.append(Growth(f"{name} open files", start.fds[name], end.fds[name],
                           max(start.fds[name] * (1 + allowed), start.fds[name] + GROWTH_FLOOR["fds"])))
    rows.append(Growth("Redis memory (MiB)", start.redis_memory / 2**20, end.redis_memory / 2**20,
                       start.redis_memory / 2**20 * (1 + allowed)))
    rows.append(Growth("Redis keys", start.redis_keys, end.redis_keys,
                       max(start.redis_keys * (1 + allowed), start.redis_keys + GROWTH_FLOOR["redis_keys"])))
    rows.append(Growth("queued frames", start.queued, end.queued, start.queued + GROWTH_FLOOR["queued"]))
    return rows


def table(rows: list[Growth], seconds: float) -> str:
    lines = [f"soak: {seconds:.0f} s measured after warm-up",
             f"{'quantity':<28}{'start':>10}{'end':>10}{'ratio':>8}{'limit':>10}  ok"]
    for row in rows:
        lines.append(f"{row.name:<28}{row.start:>10.1f}{row.end:>10.1f}{row.ratio:>8.2f}{row.allowed:>10.1f}  "
                     f"{'yes' if row.ok else 'NO'}")
    return "\n".join(lines)


def soak(target: Target, source: str, *, cameras: int = 2, fps: float = 15, duration: float = 600,
         warm_up: float | None = None, result_expires: int = 60,
         progress: Callable[[str], None] = print) -> tuple[list[Growth], float]:
    """Run the pipeline for ``duration`` seconds; the growth of everything measured after ``warm_up``.

    Raises:
        RuntimeError: a process died during the soak (its log is named).
    """
    warm_up = max(duration * 0.4, result_expires + 10.0) if warm_up is None else warm_up
    if warm_up >= duration:
        raise ValueError(f"the warm-up ({warm_up:.0f} s) must be shorter than the soak ({duration:.0f} s)")
    settings = {"result_expires": str(result_expires), "log_level": "WARNING"}
    with pipeline(target, "soak", override="null", queues=ALL_QUEUES, pool="prefork", settings=settings) \
            as (env, processes):
        log_dir = target.work_dir / "soak"
        captures = start_captures(env, log_dir, cameras, source, ALL_QUEUES, ["--loop", "--fps", str(fps)])
        everything = {**processes, **{capture.name: capture for capture in captures}}
        client = redis.Redis.from_url(target.result_backend)
        started = time.monotonic()
        try:
            start = _wait_reading(everything, target, client, started + warm_up, progress, "warm-up")
            end = _wait_reading(everything, target, client, started + duration, progress, "soak")
        finally:
            for capture in captures:
                capture.stop()
            client.close()
    return growth(start, end), end.at - start.at


def _wait_reading(processes: dict[str, BenchProcess], target: Target, client: redis.Redis, until: float,
                  progress: Callable[[str], None], phase: str) -> Reading:
    next_report = 0.0
    while (left := until - time.monotonic()) > 0:
        for name, process in processes.items():
            if process.popen.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.popen.returncode} during the soak; "
                                   f"see {process.log_path}")
        if time.monotonic() >= next_report:
            progress(f"{phase}: {left:.0f} s left")
            next_report = time.monotonic() + 30
        time.sleep(min(1.0, left))
    return read(processes, target, client)


def default_work_dir() -> Path:
    return Path("/tmp") / f"vigil-soak-{int(time.time())}"
