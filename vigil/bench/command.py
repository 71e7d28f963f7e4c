"""`vigil bench`: its options, kept beside the benchmark; `vigil.cli` adds it to the `vigil` group.

Configured by its flags only: no `VIGIL_*` variable of its own could make other commands refuse to start.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from vigil.logs import configure_logging

# The scenarios' names, without importing them (OpenCV, numpy) for every `vigil` command;
# tests/unit/test_bench_helpers.py checks they match vigil.bench.scenarios.SCENARIOS.
SCENARIO_NAMES = ("wire", "throughput", "live", "overload", "scale", "publish", "notify", "capacity")
# What runs without --scenario: capacity takes long (2 configurations x 5 camera counts x --repeat) and is asked for.
DEFAULT_SCENARIOS = tuple(name for name in SCENARIO_NAMES if name != "capacity")


@click.command(epilog="""\b
Examples:
  vigil bench                                   # every scenario, 3 repetitions (about 30 minutes)
  vigil bench --scenario wire --scenario throughput --repeat 5
  vigil bench --scenario notify                 # live latency, MQTT + webhook off vs on (demo camera)
  vigil bench --scenario capacity --repeat 2 --baseline-python ../vigil-before/.venv/bin/python
                                                # cameras per box, default rates vs that checkout
  vigil bench --scenario capacity --cameras 2,3 --baseline-python ../vigil-before/.venv/bin/python \\
      --baseline-at-defaults                    # both at the default rates: what a change did
  vigil bench --source ../shared/data/headpose/head_turning_640x360.mp4 --json bench.json \\
      --markdown docs/performance.md
\b
It deletes the fall/emotion/pose/blink queues and flushes the result db before each
run: point it at a test broker and Redis db, never at production.
""")
@click.option("--scenario", "scenarios", multiple=True,
              type=click.Choice(SCENARIO_NAMES),
              help="Scenario to run (repeatable; default: all but capacity).")
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True,
              help="Repetitions of each measurement.")
@click.option("--duration", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds per live, overload, scale-out, notify and capacity run.")
@click.option("--source", default="synthetic", show_default=True,
              help="Video for the live, notify and capacity scenarios (looped; synthetic means the demo camera for "
              "notify, ../shared/data/headpose/head_turning_640x360.mp4 for capacity).")
@click.option("--throughput-frames", type=click.IntRange(min=10), default=1500, show_default=True)
@click.option("--naive-frames", type=click.IntRange(min=2), default=10, show_default=True,
              help="Frames through the naive design (about 0.5 s each).")
@click.option("--slots", default="1,2,4,8", show_default=True, help="Worker slots for the scale-out scenario.")
@click.option("--no-real-detectors", is_flag=True, help="Live scenario with the null detector only.")
@click.option("--cameras", "camera_counts", default="1,2,3,4,6", show_default=True,
              help="Capacity scenario: the numbers of cameras (each 15 fps) to measure.")
@click.option("--baseline-python", type=click.Path(exists=True, dir_okay=False),
              help="Capacity scenario: configuration A runs with this interpreter, the .venv/bin/python of "
              "another checkout (e.g. the commit before the default rates), instead of this code at full rate.")
@click.option("--baseline-at-defaults", is_flag=True,
              help="Capacity scenario: the --baseline-python checkout runs at the default rates too, so A and B "
              "differ by their code alone (the effect of a change, or a regression).")
@click.option("--broker-url", default="amqp://guest:guest@127.0.0.1:5672//", show_default=True,
              help="RabbitMQ to benchmark on (its fall/emotion/pose/blink queues are deleted!).")
@click.option("--result-backend", default="redis://127.0.0.1:6379/14", show_default=True,
              help="Redis db for results (flushed!).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), help="Where process logs go.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write all numbers as JSON.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the tables, command, machine and date as Markdown.")
def bench(scenarios: tuple[str, ...], repeat: int, duration: float, source: str, throughput_frames: int,
          naive_frames: int, slots: str, no_real_detectors: bool, camera_counts: str, baseline_python: str | None,
          baseline_at_defaults: bool, broker_url: str, result_backend: str, work_dir: Path | None,
          json_path: Path | None, markdown_path: Path | None) -> None:
    """Measure Vigil against the naive design it replaces, in the same run.

    Scenarios: wire (bytes and codec CPU per frame), throughput (frames/s end to
    end), live (latency percentiles at 2 and 4 cameras), overload (bounded vs
    unbounded queues), scale (worker slots vs throughput), publish (what publisher
    confirms cost per frame), notify (live latency with MQTT and webhook
    notifications off and on; needs Mosquitto on 127.0.0.1:1883), capacity (cameras per
    box with the real detectors: for each --cameras N, A every algorithm on every
    frame, or the --baseline-python checkout, against B each algorithm at its default
    rate; the largest N with < 1 % frames incomplete and e2e p99 <= 100 ms; about
    N-count x 2 x --repeat x (--duration + 25 s); only when asked). Tables show
    medians of --repeat runs with the spread; starts and stops its own processes.
    """
    import tempfile

    try:
        import pika  # noqa: F401
        import psutil  # noqa: F401
    except ImportError as exc:
        raise click.UsageError(f"vigil bench needs the bench extra: pip install 'vigil[bench]' ({exc})") from None
    from vigil.bench.capacity import check_baseline
    from vigil.bench.deployment import Target
    from vigil.bench.options import Options
    from vigil.bench.runner import run_benchmark

    configure_logging("WARNING")
    slot_counts = _counts(slots, "--slots")
    cameras = _counts(camera_counts, "--cameras")
    if baseline_python:
        try:
            check_baseline(baseline_python)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--baseline-python'") from None
    elif baseline_at_defaults:
        raise click.BadParameter("it compares another checkout: give --baseline-python too",
                                 param_hint="'--baseline-at-defaults'")
    work = (work_dir or Path(tempfile.mkdtemp(prefix="vigil-bench-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    options = Options(
        target=Target(broker_url, result_backend, work), repeat=repeat, duration=duration, source=source,
        throughput_frames=throughput_frames, naive_frames=naive_frames, scale_slots=slot_counts,
        real_detectors=not no_real_detectors, capacity_cameras=cameras, baseline_python=baseline_python,
        baseline_at_defaults=baseline_at_defaults,
        progress=lambda message: click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True),
    )
    click.echo(f"process logs in {work}", err=True)
    run_benchmark(options, list(scenarios) or list(DEFAULT_SCENARIOS), json_path, markdown_path)


def _counts(text: str, flag: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> (1, 2, 4): positive integers, in the order given."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of positive integers",
                                 param_hint=f"'{flag}'")
    return counts
