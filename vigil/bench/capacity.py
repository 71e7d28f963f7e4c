"""Scenario 8, capacity (issue 11): how many cameras one box takes with the real detectors.

For N cameras (``--cameras``, default 1, 2, 3, 4, 6) each captured at 15 fps, a worker
``-P prefork -c <cores>`` runs the real detectors; two configurations alternate within
each repetition and each N (their order flips every repetition, so a drift of the
machine hits both):

- A, "before": every algorithm on every frame (``vigil capture --source``), face sharing
  off; with ``--baseline-python``, the worker, streamer and captures are another
  checkout's code (the commit before this work), run with that checkout's interpreter;
  with ``--baseline-at-defaults`` too, that checkout runs at the default rates like B, so
  the two differ by their code alone (a change's effect, a regression).
- B, "defaults": today's code with each algorithm at its default rate
  (:data:`vigil.rates.DEFAULT_RATES`), as a site file's camera gets them
  (``vigil capture --config``).

Per configuration and N: frames incomplete (an algorithm the frame asked for has no
result), end-to-end p50/p99, CPU, and "cameras per box": the largest N that, like every
smaller N, has fewer than 1 % of its frames incomplete and a p99 of at most 100 ms.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigil.bench.deployment import Target, camera_name, pipeline, start_captures
from vigil.bench.live import measure_window
from vigil.bench.options import ALL, Options, sample_image
from vigil.bench.processes import BenchProcess, bin_dir, vigil_command
from vigil.bench.report import spread
from vigil.rates import DEFAULT_RATES
from vigil.stats import median_and_spread

CAPTURE_FPS = 15.0
CLIP = Path("headpose") / "head_turning_640x360.mp4"  # a face and a person in every frame: every detector works
MAX_INCOMPLETE_PCT = 1.0
MAX_P99_S = 0.100
# Before the window: each prefork child loads the four models on its first tasks, and the
# queues drain what piled up meanwhile.
WARM_UP = 8.0


@dataclass(frozen=True)
class CapacityConfig:
    """One side of the comparison.

    Attributes:
        key: ``A`` or ``B``.
        label: what the report calls it.
        rates: each algorithm at its default rate (a site file's camera) instead of on every frame.
        python: another checkout's interpreter (its code) for every process; None: this code.
        settings: ``VIGIL_*`` settings of every process.
    """

    key: str
    label: str
    rates: bool
    python: str | None = None
    settings: tuple[tuple[str, str], ...] = ()


def default_source() -> str:
    """The clip this scenario uses unless ``--source`` names one (``VIGIL_DATA_DIR``, as the tests)."""
    return str(Path(os.environ.get("VIGIL_DATA_DIR", "../shared/data")) / CLIP)


def describe_rates(rates: Mapping[str, float] = DEFAULT_RATES) -> str:
    return ", ".join(f"{name} {rate:g}" for name, rate in rates.items()) + " per s"


def configurations(baseline_python: str | None, baseline_at_defaults: bool = False
                   ) -> tuple[CapacityConfig, CapacityConfig]:
    """A (before) and B (default rates).

    Args:
        baseline_python: the interpreter of the checkout A runs, or None for this code at full
            rate with faces not shared.
        baseline_at_defaults: that checkout runs at the default rates (its site-file cameras), as B.

    Raises:
        ValueError: ``baseline_at_defaults`` without ``baseline_python``.
    """
    if baseline_at_defaults:
        if not baseline_python:
            raise ValueError("--baseline-at-defaults compares another checkout: it needs --baseline-python")
        before = CapacityConfig("A", f"A ({checkout_name(baseline_python)}): default rates", rates=True,
                                python=baseline_python)
    elif baseline_python:
        before = CapacityConfig("A", f"A before ({checkout_name(baseline_python)}): every algorithm, every frame",
                                rates=False, python=baseline_python)
    else:
        before = CapacityConfig("A", "A before: every algorithm, every frame, faces not shared", rates=False,
                                settings=(("share_faces", "false"),))
    defaults = CapacityConfig("B", f"B defaults: {describe_rates()}", rates=True)
    return before, defaults


def checkout_name(python: str) -> str:
    """``git describe`` of the checkout whose venv ``python`` is in (``<checkout>/.venv/bin/python``)."""
    checkout = Path(python).parent.parent.parent
    try:
        done = subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return str(checkout)
    return done.stdout.strip() or str(checkout)


def check_baseline(python: str) -> None:
    """Raises ValueError unless Vigil's commands (``vigil``, ``celery``) are beside ``python`` (a venv's)."""
    for script in ("vigil", "celery"):
        path = bin_dir(python) / script
        if not os.access(path, os.X_OK):
            raise ValueError(f"{path} is not there: give the python of a venv with that checkout installed "
                             "(its scripts/_env.sh: vigil_venv \"detectors,test,bench\")")


def cameras_per_box(results: Mapping[int, tuple[float, float]], max_incomplete_pct: float = MAX_INCOMPLETE_PCT,
                    max_p99: float = MAX_P99_S) -> int:
    """The largest N that, like every smaller N, meets both limits; 0 when the smallest does not.

    Args:
        results: per N, (frames incomplete %, e2e p99 in seconds); NaN fails.
    """
    best = 0
    for cameras in sorted(results):
        incomplete, p99 = results[cameras]
        if not (incomplete < max_incomplete_pct and p99 <= max_p99):
            break
        best = cameras
    return best


def incomplete_pct(run: Mapping[str, Any]) -> float:
    return 100.0 * run["incomplete"] / run["frames"] if run["frames"] else float("nan")


def site_toml(cameras: int, source: str, fps: float) -> str:
    """A site file whose cameras ``bench0``... show ``source``; no ``algorithms``: the default rates."""
    lines: list[str] = []
    for index in range(cameras):
        lines += [f"[cameras.{camera_name(index)}]", f"source = {json.dumps(source)}", f"fps = {fps!r}",
                  "loop = true", ""]
    return "\n".join(lines)


def _captures(config: CapacityConfig, env: dict[str, str], log_dir: Path, cameras: int,
              source: str) -> list[BenchProcess]:
    if not config.rates:
        return start_captures(env, log_dir, cameras, source, ALL, ["--fps", f"{CAPTURE_FPS:g}", "--loop"],
                              python=config.python, cwd=log_dir)
    site = log_dir / "vigil.toml"
    site.write_text(site_toml(cameras, source, CAPTURE_FPS))
    return [
        BenchProcess(f"capture-{index}", vigil_command("capture", "--config", str(site), "--camera",
                                                       camera_name(index), python=config.python),
                     env, log_dir, log_dir)
        for index in range(cameras)
    ]


def _run(target: Target, options: Options, config: CapacityConfig, cameras: int, rep: int,
         source: str) -> dict[str, Any]:
    name = f"capacity-{config.key}-{cameras}cam-{rep}"
    log_dir = target.work_dir / name
    # Every process runs in its log folder: `celery -A vigil` imports a `vigil` folder of the working
    # directory before the installed one, and the streamer's event store lands there too.
    with pipeline(target, name, override="", queues=ALL, pool="prefork", concurrency=os.cpu_count() or 1,
                  settings=dict(config.settings), python=config.python, cwd=log_dir) as (env, procs):
        captures: list[BenchProcess] = []
        try:
            captures = _captures(config, env, log_dir, cameras, source)
            _, summary = measure_window(target, name, procs, captures, options.duration, WARM_UP)
        finally:
            for capture in captures:  # stopped by measure_window, unless it was interrupted
                capture.stop()
    if not summary["frames"]:
        raise RuntimeError(f"{name}: the streamer recorded no frame; see the logs in {log_dir}")
    summary["cameras"] = cameras
    return summary


def _absolute(source: str) -> str:
    """A file's absolute path (the processes run in their log folders); any other source as given."""
    path = Path(source)
    return str(path.resolve()) if path.exists() else source


def capacity(options: Options) -> dict[str, Any]:
    source = _absolute(default_source() if options.source == "synthetic" else options.source)
    sample_image(source)  # a missing file fails here, not as runs of zero frames
    if options.baseline_python:
        check_baseline(options.baseline_python)
    target = dataclasses.replace(options.target, work_dir=options.target.work_dir.resolve())
    configs = configurations(options.baseline_python, options.baseline_at_defaults)
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {c.key: {n: [] for n in options.capacity_cameras}
                                                        for c in configs}
    for rep in range(options.repeat):
        for cameras in options.capacity_cameras:
            for config in configs if rep % 2 == 0 else configs[::-1]:
                options.progress(f"capacity: repetition {rep + 1}/{options.repeat}: {cameras} camera(s), "
                                 f"{config.label}")
                runs[config.key][cameras].append(_run(target, options, config, cameras, rep, source))
    return report(options, source, configs, runs)


def report(options: Options, source: str, configs: Sequence[CapacityConfig],
           runs: Mapping[str, Mapping[int, list[dict[str, Any]]]]) -> dict[str, Any]:
    """The two tables (per configuration and N; cameras per box) and the JSON data."""
    rows, boxes, box_rows = [], {}, []
    for config in configs:
        medians: dict[int, tuple[float, float]] = {}
        for cameras, reps in runs[config.key].items():
            incomplete = [incomplete_pct(r) for r in reps]
            p99 = [r["end_to_end"]["p99"] for r in reps]
            medians[cameras] = (median_and_spread(incomplete)[0], median_and_spread(p99)[0])
            rows.append([
                config.label.split(":")[0], cameras,
                spread([r["tasks_asked"] / r["seconds"] for r in reps], digits=0),
                spread(incomplete),
                spread([r["end_to_end"]["p50"] for r in reps], 1000),
                spread(p99, 1000),
                spread([r["cpu"]["worker"] for r in reps], digits=2),
                spread([r["cpu"]["worker"] / cameras for r in reps], digits=2),
                spread([r["cpu"]["streamer"] for r in reps], digits=2),
                spread([r["cpu"]["captures"] for r in reps], digits=2),
                spread([r["cpu"]["machine"] for r in reps], digits=2),
                spread([r["capture_dropped"] for r in reps], digits=0),
            ])
        boxes[config.key] = cameras_per_box(medians)
        box_rows.append([config.label, boxes[config.key], _limit(medians, boxes[config.key])])
    cores = os.cpu_count() or 1
    cameras_list = ",".join(str(n) for n in options.capacity_cameras)
    flags = (", --baseline-python" if options.baseline_python else "") + (
        ", --baseline-at-defaults" if options.baseline_at_defaults else "")
    title = (f"8. Capacity (--cameras {cameras_list}, --duration {options.duration:g}, --repeat {options.repeat}"
             f"{flags}): real detectors, worker -P prefork -c {cores}, N cameras x {CAPTURE_FPS:g} fps of "
             f"{Path(source).name} (looped)")
    headers = ["configuration", "cameras", "tasks/s asked", "frames incomplete %", "e2e p50 ms", "e2e p99 ms",
               "worker CPU (cores)", "worker CPU per camera", "streamer CPU", "captures CPU", "machine CPU (cores)",
               "dropped at capture"]
    box_title = (f"8b. Cameras per box: the largest N that, like every smaller N, has < {MAX_INCOMPLETE_PCT:g} % "
                 f"of frames incomplete and e2e p99 <= {MAX_P99_S * 1000:.0f} ms (medians)")
    return {
        "tables": [(title, headers, rows),
                   (box_title, ["configuration", "cameras per box", "first N over a limit"], box_rows)],
        "data": {"source": source, "worker": f"-P prefork -c {cores}", "fps": CAPTURE_FPS,
                 "configs": {c.key: dataclasses.asdict(c) for c in configs},
                 "runs": {key: {str(n): reps for n, reps in by_n.items()} for key, by_n in runs.items()},
                 "cameras_per_box": boxes},
    }


def _limit(medians: Mapping[int, tuple[float, float]], box: int) -> str:
    """Why the next N is not in the box: its median incomplete % and p99."""
    over = [n for n in sorted(medians) if n > box]
    if not over:
        return "none measured"
    incomplete, p99 = medians[over[0]]
    return f"N={over[0]}: {incomplete:.1f} % incomplete, p99 {p99 * 1000:.0f} ms"
