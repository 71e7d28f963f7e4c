"""`vigil run`: capture, workers and streamer in one process (:mod:`vigil.embedded`)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import click

from vigil.cli_common import (
    add_options,
    algorithms_option,
    check_event_paths,
    check_output,
    config_option,
    fail,
    load_settings,
    load_site,
    parse_algorithms,
    serve_options,
    serving_auth,
    size_options,
    stop_on_signals,
)
from vigil.errors import ConfigError, VigilError

DEMO_SOURCE = "demo=demo"  # `vigil run` with no --source: the built-in demo camera, named "demo"


@click.command(epilog="""\b
Examples:
  vigil run                                          # the demo camera, view on http://127.0.0.1:8080
  vigil run --source synthetic --max-frames 300 --report report.json
  vigil run --source 0                               # webcam
  vigil run --source door=clip1.mp4 --source hall=clip2.mp4 --algorithms fall
  vigil run --config vigil.toml                      # every camera of the site file
""")
@click.option("--source", "sources", multiple=True,
              help="Source (webcam index, URL, file, 'demo', 'synthetic'), optionally NAME=SOURCE; repeat for more "
                   "cameras. Default: the site file's cameras with --config, else the built-in demo camera (a "
                   "person, her face, a fall; a public-domain photo).")
@config_option
@algorithms_option
@click.option("--fps", type=click.FloatRange(min=0.1), default=None, help="Frames per second to sample.")
@add_options(size_options)
@click.option("--max-frames", type=click.IntRange(min=1), help="Stop each camera after this many frames.")
@click.option("--loop", is_flag=True, help="Replay video files when they end.")
@click.option("--fast", is_flag=True, help="Send files as fast as possible (benchmarks).")
@add_options(serve_options)
@click.option("--no-http", is_flag=True, help="Do not serve HTTP (batch runs).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Worker threads.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JSON report (every frame's joined results, events, latency) when done.")
@click.pass_context
def run(ctx: click.Context, sources: tuple[str, ...], config: Path | None, algorithms: str | None, fps: float | None,
        width: int | None, height: int | None, max_frames: int | None, loop: bool, fast: bool,
        host: str, port: int, insecure: bool, no_http: bool, workers: int, report: Path | None) -> None:
    """Run capture, workers and streamer in one process (no RabbitMQ, no Redis).

    The same tasks and code paths as distributed mode, on Celery's in-memory broker
    and result backend. Stops when every source has ended (or on Ctrl-C).
    """
    from vigil.embedded import run_embedded, write_report

    names = parse_algorithms(ctx, algorithms)
    overrides: dict[str, Any] = {"frame_width": width, "frame_height": height}
    if names:
        overrides["algorithms"] = names
    if not sources and config is None:
        sources = (DEMO_SOURCE,)  # the quick-start: the built-in demo camera
    site_file = load_site(config, **overrides) if config else None
    site = None if sources else site_file  # with --source, the file gives only its [vigil] settings
    settings = site_file.settings if site_file else load_settings(ctx, **overrides)
    auth = serving_auth(site_file, host if not no_http else "127.0.0.1", insecure, "vigil run")
    check_output(report, "--report")
    check_event_paths(settings)
    stop = threading.Event()
    stop_on_signals(stop)
    try:
        result = run_embedded(
            settings, _named_sources(ctx, sources), fps=fps, max_frames=max_frames, loop=loop, fast=fast,
            host=host, port=None if no_http else port, workers=workers, stop=stop, record=report is not None,
            site=site, auth=auth, notify=site_file.notifications() if site_file else None,
        )
    except VigilError as exc:
        fail(exc)
    latency = result["latency"]["end_to_end"]
    click.echo(
        f"vigil run: {result['frames_emitted']} frames ({result['frames_complete']} complete) in "
        f"{result['elapsed']:.1f} s; end-to-end p50 {latency['p50'] * 1000:.1f} ms, "
        f"p99 {latency['p99'] * 1000:.1f} ms; {result['incident_count']} incidents "
        f"({result['event_count']} new/update/end events)",
        err=True,
    )
    if report is not None:
        write_report(result, report)
        click.echo(f"report written to {report}", err=True)


def _named_sources(ctx: click.Context, sources: tuple[str, ...]) -> list[tuple[str, str]]:
    from vigil.frames import check_camera_name

    named = []
    for index, spec in enumerate(sources):
        name, sep, source = spec.partition("=")
        if not sep or "://" in name:
            name, source = f"cam{index}", spec
        try:
            named.append((check_camera_name(name), source))
        except ConfigError as exc:
            raise click.BadParameter(str(exc), ctx, param_hint="'--source'") from None
    if len({name for name, _ in named}) != len(named):
        raise click.BadParameter("camera names must differ", ctx, param_hint="'--source'")
    return named
