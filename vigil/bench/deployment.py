"""One benchmark run of the real pipeline: workers, a streamer and captures as processes."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from kombu import Connection

from vigil.bench.processes import BenchProcess, bench_env, celery_command, vigil_command
from vigil.detectors.registry import BUILTIN
from vigil.stream.recorder import read_json_lines

ALL_QUEUES = tuple(BUILTIN)


@dataclass
class Target:
    """Where the benchmark runs: broker, result backend, a folder for logs."""

    broker_url: str
    result_backend: str
    work_dir: Path


def reset_broker(target: Target, queues: Sequence[str] = ALL_QUEUES) -> None:
    """Delete our queues (stale frames, other arguments) and flush the result db."""
    with Connection(target.broker_url, connect_timeout=5) as connection:
        channel = connection.default_channel
        for name in queues:
            channel.queue_delete(name)
    redis.Redis.from_url(target.result_backend).flushdb()


@contextlib.contextmanager
def pipeline(
    target: Target,
    name: str,
    *,
    override: str,
    queues: Sequence[str],
    pool: str = "threads",
    concurrency: int = 2,
    settings: dict[str, str] | None = None,
    config: Path | None = None,
    python: str | None = None,
    cwd: Path | None = None,
) -> Iterator[tuple[dict[str, str], dict[str, BenchProcess]]]:
    """A worker and a recording streamer, stopped on exit.

    ``config``: the streamer's site file (``--config``: camera rules, notifications); the
    environment never carries one, since :func:`bench_env` drops every ``VIGIL_*`` variable.
    ``python``: run them with another Vigil checkout's interpreter (its code); then ``cwd`` must
    not be a checkout either, or ``celery -A vigil`` imports the ``vigil`` folder found there.
    """
    reset_broker(target)
    log_dir = target.work_dir / name
    log_dir.mkdir(parents=True, exist_ok=True)
    env = bench_env(target.broker_url, target.result_backend, detector_override=override, **(settings or {}))
    processes: dict[str, BenchProcess] = {}
    record = record_path(target, name)
    record.unlink(missing_ok=True)
    try:
        processes["worker"] = BenchProcess(
            "worker",
            celery_command("vigil", "worker", "-Q", ",".join(queues), "-P", pool, "-c", str(concurrency),
                           "-l", "INFO", "--without-mingle", "--without-gossip", "-n", f"bench-{name}@%h",
                           python=python),
            env, log_dir, cwd,
        )
        processes["worker"].wait_for("ready.", 90)
        processes["streamer"] = BenchProcess(
            "streamer",
            vigil_command("stream", "--port", "0", "--record", str(record),
                          *(["--config", str(config)] if config is not None else []), python=python),
            env, log_dir, cwd,
        )
        processes["streamer"].wait_for("serving on", 30)
        yield env, processes
    finally:
        for process in processes.values():
            process.stop()


def start_captures(env: dict[str, str], log_dir: Path, cameras: int, source: str, algorithms: Sequence[str],
                   extra: Sequence[str], python: str | None = None, cwd: Path | None = None) -> list[BenchProcess]:
    """``cameras`` captures ``bench0``, ``bench1``... of ``source``, every algorithm on every frame."""
    return [
        BenchProcess(
            f"capture-{index}",
            vigil_command("capture", "--camera", camera_name(index), "--source", source,
                          "--algorithms", ",".join(algorithms), *extra, python=python),
            env, log_dir, cwd,
        )
        for index in range(cameras)
    ]


def camera_name(index: int) -> str:
    return f"bench{index}"


def record_path(target: Target, name: str) -> Path:
    """Where the streamer of run ``name`` records every joined frame."""
    return target.work_dir / name / "stream.jsonl"


def finish(record: Path, settle: float) -> list[dict[str, Any]]:
    """Wait for the streamer to emit what is in flight, then read its record."""
    time.sleep(settle)
    frames, _ = read_json_lines(record)
    return frames


def streamer_url(process: BenchProcess) -> str:
    """The streamer's base URL, from its "vigil stream: serving on URL" line."""
    return served_url(process.output())


def served_url(output: str) -> str:
    """The URL of the last "serving on URL" line of ``output``.

    Raises:
        ValueError: no such line.
    """
    for line in reversed(output.splitlines()):
        if line.startswith("vigil stream: serving on "):
            return line.rsplit(" ", 1)[1]
    raise ValueError("the streamer printed no 'serving on' line")


def capture_stats(process: BenchProcess) -> dict[str, Any]:
    """The capture daemon's final counters, from its last line."""
    for line in reversed(process.output().splitlines()):
        if " captured, " in line and line.startswith("camera "):
            # "camera NAME: 75 captured, 75 sent, 0 dropped"
            numbers = [int(part.split()[0]) for part in line.split(": ", 1)[1].split(", ")]
            return dict(zip(("captured", "sent", "dropped"), numbers))
    return {"captured": 0, "sent": 0, "dropped": 0}
