"""Where a worker's time goes: the detection task in-process, and a real worker's py-spy profile.

Two commands (see docs/performance.md, "Where a worker's time goes"):

    .venv/bin/python scripts/profile_worker.py detect --source CLIP [--frames 150]
        Runs ``detect_frame`` (the function behind every task) in this process over
        the clip's frames, JPEG-encoded as the capture daemon sends them, for each
        algorithm under cProfile; prints per-frame medians of decode and model time and
        the share of model inference (LiteRT ``invoke``) in the task.

    .venv/bin/python scripts/profile_worker.py share --source CLIP [--frames 150] [--rounds 4]
        CPU time per frame of emotion, pose and blink run one after another on each frame,
        each finding its own faces or sharing them (one share, as tasks of a worker do),
        alternated round by round; prints the medians and the faces' share of the work.

    .venv/bin/python scripts/profile_worker.py floor --source CLIP [--frames 150] [--rounds 3]
        The detection work one 15 fps camera costs, in this process with no Celery, broker or
        Redis: each frame runs the algorithms the capture daemon would ask for at the default
        rates (``vigil.rates``), with faces shared, against every algorithm on every frame
        with each finding its own faces; prints CPU per task and cores per camera. No worker
        can cost less than this: it is the floor under "worker CPU per camera".

    .venv/bin/python scripts/profile_worker.py store --result-backend redis://127.0.0.1:6379/11
        Times storing one task result with Celery's Redis backend and with Vigil's
        one-write backend, alternated, and prints the medians.

    .venv/bin/python scripts/profile_worker.py spy FILE
        Sorts the samples of ``py-spy record --format raw`` (collapsed stacks) of a real
        worker into what they were doing: model, JPEG decode, Redis result store, task
        events, AMQP, the rest of Celery and Python.

Nothing here asserts a timing; it prints what it measured.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import cv2

from vigil.detectors.registry import BUILTIN
from vigil.frames import encode_frame
from vigil.rates import DEFAULT_RATES, RateSchedule
from vigil.settings import Settings
from vigil.tasks.detect import detect_frame
from vigil.tasks.face_share import FaceShare

# py-spy stack frames look like "function (path/module.py:line)". A sample belongs to the
# first category, in this order, that any frame of its stack matches: an event's publish is
# "task events" although its innermost frames are in kombu.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model inference (LiteRT invoke)", ("ai_edge_litert/interpreter.py",)),
    ("JPEG decode", ("decode_jpeg (",)),
    ("detector, not inference (crops, NMS, tensors)", ("vigil/detectors/",)),
    ("task events", ("celery/events/", "send_event (", "send_task_message_event")),
    ("Redis result store", ("celery/backends/", "redis/")),
    ("AMQP (kombu/amqp: receive, ack)", ("kombu/", "amqp/", "vine/")),
)


def encoded_frames(source: Path, count: int, settings: Settings) -> list[dict[str, Any]]:
    """The first ``count`` frames of ``source`` as task payloads, encoded as capture does."""
    capture = cv2.VideoCapture(str(source))
    payloads = []
    try:
        while len(payloads) < count:
            ok, image = capture.read()
            if not ok:
                break
            frame = encode_frame(image, camera="profile", session=1, seq=len(payloads), captured_at=time.time(),
                                 quality=settings.jpeg_quality, width=settings.frame_width,
                                 max_bytes=settings.max_payload_bytes)
            payloads.append(frame.to_payload())
    finally:
        capture.release()
    return payloads


def profile_detect(source: Path, count: int, algorithms: list[str]) -> None:
    settings = Settings.load()
    payloads = encoded_frames(source, count, settings)
    print(f"{len(payloads)} frames of {source.name}, {len(payloads[0]['jpeg']):,} bytes JPEG (first frame)\n")
    print("| algorithm | task ms | JPEG decode ms | detect ms | LiteRT invoke ms | invoke share of task |")
    print("|---|---|---|---|---|---|")
    for algorithm in algorithms:
        for payload in payloads[:5]:  # load the models, warm caches
            detect_frame(payload, algorithm, max_bytes=settings.max_payload_bytes)
        decode, detect, total = [], [], []
        profiler = cProfile.Profile()
        for payload in payloads:
            start = time.perf_counter()
            profiler.enable()
            result = detect_frame(payload, algorithm, max_bytes=settings.max_payload_bytes)
            profiler.disable()
            total.append(time.perf_counter() - start)
            decode.append(result.timings["decode"])
            detect.append(result.timings["detect"])
        stats = pstats.Stats(profiler)
        invoke = sum(cumulative for (path, _, name), (_, _, _, cumulative, _) in stats.stats.items()  # type: ignore[attr-defined]
                      if name == "invoke" and "ai_edge_litert" in path)
        everything = sum(total)
        print(f"| {algorithm} | {_ms(total)} | {_ms(decode)} | {_ms(detect)} | "
              f"{1000 * invoke / len(payloads):.2f} (mean) | {100 * invoke / everything:.0f}% |")
    print("\nmedians per frame; cProfile adds its own overhead to the Python parts")


FACE_ALGORITHMS = ("emotion", "pose", "blink")


def time_sharing(source: Path, count: int, rounds: int) -> None:
    settings = Settings.load()
    payloads = encoded_frames(source, count, settings)
    print(f"{len(payloads)} frames of {source.name}; CPU ms per frame for {', '.join(FACE_ALGORITHMS)}\n")
    for payload in payloads[:5]:  # load the models, warm caches
        for algorithm in FACE_ALGORITHMS:
            detect_frame(payload, algorithm, max_bytes=settings.max_payload_bytes)
    per_frame: dict[str, list[float]] = {"each finds its faces": [], "faces shared": []}
    for round_number in range(rounds):
        for label in per_frame if round_number % 2 == 0 else reversed(list(per_frame)):
            share = FaceShare(None) if label == "faces shared" else None
            for payload in payloads:
                start = time.process_time()
                for algorithm in FACE_ALGORITHMS:
                    detect_frame(payload, algorithm, max_bytes=settings.max_payload_bytes, faces=share)
                per_frame[label].append(time.process_time() - start)
    print("| faces | CPU ms per frame, median | p90 | rounds x frames |")
    print("|---|---|---|---|")
    for label, values in per_frame.items():
        ordered = sorted(values)
        print(f"| {label} | {1000 * statistics.median(values):.2f} | {1000 * ordered[int(0.9 * len(ordered))]:.2f} "
              f"| {rounds} x {len(payloads)} |")


def detection_floor(source: Path, count: int, rounds: int, fps: float = 15.0) -> None:
    settings = Settings.load(environ={})
    payloads = encoded_frames(source, count, settings)
    every = {name: None for name in BUILTIN}
    configurations = {"every algorithm, every frame, faces not shared": (every, False),
                      f"default rates ({', '.join(f'{k} {v:g}' for k, v in DEFAULT_RATES.items())}), faces shared":
                      (DEFAULT_RATES, True)}
    cpu: dict[str, dict[str, list[float]]] = {label: collections.defaultdict(list) for label in configurations}
    totals: dict[str, list[float]] = {label: [] for label in configurations}
    for round_ in range(rounds):
        for label in list(configurations) if round_ % 2 == 0 else list(configurations)[::-1]:
            rates, shared = configurations[label]
            schedule, share, total = RateSchedule(rates), FaceShare(None) if shared else None, 0.0
            for index, payload in enumerate(payloads):
                for algorithm in schedule.due(index / fps):
                    start = time.process_time()
                    detect_frame(payload, algorithm, max_bytes=settings.max_payload_bytes, faces=share)
                    spent = time.process_time() - start
                    cpu[label][algorithm].append(spent)
                    total += spent
            totals[label].append(total / (len(payloads) / fps))
    seconds = len(payloads) / fps
    print(f"{len(payloads)} frames of {source.name} as one {fps:g} fps camera ({seconds:g} s), {rounds} rounds "
          "alternated; CPU in this process, no Celery, broker or Redis\n")
    print("| configuration | algorithm | tasks a second | CPU ms a task, median | cores a camera |")
    print("|---|---|---|---|---|")
    for label, by_algorithm in cpu.items():
        for algorithm, values in by_algorithm.items():
            per_second = len(values) / rounds / seconds
            print(f"| {label} | {algorithm} | {per_second:g} | {_ms(values)} | "
                  f"{sum(values) / rounds / seconds:.3f} |")
        print(f"| {label} | **all** | | | **{statistics.median(totals[label]):.3f}** "
              f"({min(totals[label]):.3f}-{max(totals[label]):.3f}) |")


def _ms(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):.3f}"


def categorise(stack: str) -> str:
    """The category of one collapsed py-spy stack (frames separated by ';')."""
    for name, needles in CATEGORIES:
        if any(needle in stack for needle in needles):
            return name
    return "the rest (Celery worker, billiard, Python)"


def summarise_spy(path: Path) -> None:
    counts: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if stack and number.isdigit():
            counts[categorise(stack)] += int(number)
    total = sum(counts.values())
    print(f"{total:,} samples (py-spy leaves out threads waiting idle)\n")
    print("| where | samples | share |")
    print("|---|---|---|")
    for name, n in counts.most_common():
        print(f"| {name} | {n:,} | {100 * n / total:.1f}% |")


def time_store(url: str, rounds: int, count: int) -> None:
    from celery import Celery, states
    from celery.backends.redis import RedisBackend

    from vigil.messages import DetectionResult, task_id
    from vigil.result_backend import OneWriteRedisBackend

    app = Celery("profile", set_as_current=False)
    app.conf.update(result_serializer="json", result_expires=60)
    backends = {"Celery RedisBackend": RedisBackend(app=app, url=url),
                "Vigil OneWriteRedisBackend": OneWriteRedisBackend(app=app, url=url)}
    value = DetectionResult(camera="cam", session=1, seq=0, algorithm="pose", status="ok", detector="pose",
                            observation={"faces": []}, captured_at=1.0, started_at=1.0,
                            finished_at=1.0).to_dict()
    times: dict[str, list[float]] = {name: [] for name in backends}
    seq = 0
    for _ in range(rounds):
        for name, backend in backends.items():
            for _ in range(count):
                seq += 1
                start = time.perf_counter()
                backend.store_result(task_id("cam", 1, seq, "pose"), value, states.SUCCESS)
                times[name].append(time.perf_counter() - start)
    print(f"{rounds} rounds x {count} results each, alternated\n")
    print("| backend | store_result p50 ms | p90 ms |")
    print("|---|---|---|")
    for name, values in times.items():
        values.sort()
        print(f"| {name} | {_ms(values)} | {1000 * values[int(0.9 * len(values))]:.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    detect = commands.add_parser("detect", help="profile detect_frame in this process")
    detect.add_argument("--source", type=Path, required=True)
    detect.add_argument("--frames", type=int, default=150)
    detect.add_argument("--algorithms", default=",".join(BUILTIN))
    share = commands.add_parser("share", help="CPU per frame of the face algorithms, sharing faces or not")
    share.add_argument("--source", type=Path, required=True)
    share.add_argument("--frames", type=int, default=150)
    share.add_argument("--rounds", type=int, default=4)
    floor = commands.add_parser("floor", help="detection CPU of one camera at the default rates, in process")
    floor.add_argument("--source", type=Path, required=True)
    floor.add_argument("--frames", type=int, default=150)
    floor.add_argument("--rounds", type=int, default=3)
    store = commands.add_parser("store", help="time storing a result, Celery's backend against Vigil's")
    store.add_argument("--result-backend", required=True)
    store.add_argument("--rounds", type=int, default=6)
    store.add_argument("--count", type=int, default=1000)
    spy = commands.add_parser("spy", help="summarise a py-spy raw profile of a worker")
    spy.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    if args.command == "detect":
        profile_detect(args.source, args.frames, args.algorithms.split(","))
    elif args.command == "share":
        time_sharing(args.source, args.frames, args.rounds)
    elif args.command == "floor":
        detection_floor(args.source, args.frames, args.rounds)
    elif args.command == "store":
        time_store(args.result_backend, args.rounds, args.count)
    else:
        summarise_spy(args.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
