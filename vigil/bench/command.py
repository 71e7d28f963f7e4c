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
SCENARIO_NAMES = ("wire", "throughput", "live", "overload", "scale", "publish", "notify")


@click.command(epilog="""\b
Examples:
  vigil bench                                   # every scenario, 3 repetitions (about 30 minutes)
  vigil bench --scenario wire --scenario throughput --repeat 5
  vigil bench --scenario notify                 # live latency, MQTT + webhook off vs on (demo camera)
  vigil bench --source ../shared/data/headpose/head_turning_640x360.mp4 --json bench.json \\
      --markdown docs/performance.md
\b
It deletes the fall/emotion/pose/blink queues and flushes the result db before each
run: point it at a test broker and Redis db, never at production.
""")
@click.option("--scenario", "scenarios", multiple=True,
              type=click.Choice(SCENARIO_NAMES),
              help="Scenario to run (repeatable; default: all).")
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True,
              help="Repetitions of each measurement.")
@click.option("--duration", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds per live, overload and scale-out run.")
@click.option("--source", default="synthetic", show_default=True,
              help="Video for the live and notify scenarios (looped; for notify, synthetic means the demo camera).")
@click.option("--throughput-frames", type=click.IntRange(min=10), default=1500, show_default=True)
@click.option("--naive-frames", type=click.IntRange(min=2), default=10, show_default=True,
              help="Frames through the naive design (about 0.5 s each).")
@click.option("--slots", default="1,2,4,8", show_default=True, help="Worker slots for the scale-out scenario.")
@click.option("--no-real-detectors", is_flag=True, help="Live scenario with the null detector only.")
@click.option("--broker-url", default="amqp://guest:guest@127.0.0.1:5672//", show_default=True,
              help="RabbitMQ to benchmark on (its fall/emotion/pose/blink queues are deleted!).")
@click.option("--result-backend", default="redis://127.0.0.1:6379/14", show_default=True,
              help="Redis db for results (flushed!).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), help="Where process logs go.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write all numbers as JSON.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the tables, command, machine and date as Markdown.")
def bench(scenarios: tuple[str, ...], repeat: int, duration: float, source: str, throughput_frames: int,
          naive_frames: int, slots: str, no_real_detectors: bool, broker_url: str, result_backend: str,
          work_dir: Path | None, json_path: Path | None, markdown_path: Path | None) -> None:
    """Measure Vigil against the naive design it replaces, in the same run.

    Scenarios: wire (bytes and codec CPU per frame), throughput (frames/s end to
    end), live (latency percentiles at 2 and 4 cameras), overload (bounded vs
    unbounded queues), scale (worker slots vs throughput), publish (what publisher
    confirms cost per frame), notify (live latency with MQTT and webhook
    notifications off and on; needs Mosquitto on 127.0.0.1:1883). Tables show medians of
    --repeat runs with the spread; starts and stops its own processes.
    """
    import tempfile

    try:
        import pika  # noqa: F401
        import psutil  # noqa: F401
    except ImportError as exc:
        raise click.UsageError(f"vigil bench needs the bench extra: pip install 'vigil[bench]' ({exc})") from None
    from vigil.bench.deployment import Target
    from vigil.bench.runner import run_benchmark
    from vigil.bench.scenarios import Options

    configure_logging("WARNING")
    try:
        slot_counts = tuple(int(part) for part in slots.split(","))
    except ValueError:
        raise click.BadParameter(f"{slots!r} is not a comma-separated list of integers",
                                 param_hint="'--slots'") from None
    work = work_dir or Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    options = Options(
        target=Target(broker_url, result_backend, work), repeat=repeat, duration=duration, source=source,
        throughput_frames=throughput_frames, naive_frames=naive_frames, scale_slots=slot_counts,
        real_detectors=not no_real_detectors,
        progress=lambda message: click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True),
    )
    click.echo(f"process logs in {work}", err=True)
    run_benchmark(options, list(scenarios) or list(SCENARIO_NAMES), json_path, markdown_path)
