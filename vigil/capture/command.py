"""`vigil capture`: one camera, or every camera of a site file each in a supervised process.

Kept beside the capture daemon; `vigil.cli` adds it to the `vigil` group.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import click

from vigil.cli_common import (
    EX_CONFIG,
    EX_UNAVAILABLE,
    add_options,
    algorithms_option,
    backend_option,
    broker_option,
    config_option,
    fail,
    load_settings,
    load_site,
    parse_algorithms,
    size_options,
    stop_on_signals,
)
from vigil.errors import BrokerUnavailableError, CaptureError, ConfigError, QueueMismatchError


@click.command(epilog="""\b
Examples:
  vigil capture --camera door --source 0 --fps 15
  vigil capture --camera hall --source rtsp://user:pw@10.0.0.7/stream --algorithms fall
  vigil capture --camera test --source clip.mp4 --loop
  vigil capture --config vigil.toml                  # every camera of the site file
  vigil capture --config vigil.toml --camera door    # one of them
\b
With --config and no --camera, each camera runs in its own child process, restarted
with backoff if it dies; SIGTERM or Ctrl-C stops them all. Output lines start with
[camera]. Without a site file, run one `vigil capture` per camera, each with --source.
""")
@click.option("--camera", help="Camera name: letters, digits, '-', '_' (used in URLs); with --config, "
              "the camera of the file to run (default: all).")
@click.option("--source", help="Webcam index (0), RTSP/HTTP URL, video file, 'demo' or 'synthetic' (one camera, "
              "no site file).")
@config_option
@algorithms_option
@click.option("--fps", type=click.FloatRange(min=0.1), default=None,
              help="Frames per second to sample (default: the source's rate).")
@add_options(size_options)
@click.option("--max-frames", type=click.IntRange(min=1), help="Stop after capturing this many frames.")
@click.option("--loop", is_flag=True, help="Replay a video file from the start when it ends.")
@click.option("--fast", is_flag=True, help="Send a file as fast as possible instead of at its frame rate (benchmarks).")
@click.option("--reconnect-timeout", type=click.FloatRange(min=0), default=None,
              help="Give up on a camera that stays unavailable this many seconds (default: retry forever).")
@broker_option
@backend_option
@click.pass_context
def capture(ctx: click.Context, camera: str | None, source: str | None, config: Path | None,
            algorithms: str | None, fps: float | None, width: int | None, height: int | None,
            max_frames: int | None, loop: bool, fast: bool, reconnect_timeout: float | None,
            broker_url: str | None, result_backend: str | None) -> None:
    """Capture a camera (or every camera of the site file) and send frames to the detector queues.

    The read loop never waits for the broker: when it is slow or down, frames are
    dropped and counted, and sending resumes within seconds of its return. A failing
    camera is reopened with capped exponential backoff. Ctrl-C stops cleanly.
    """
    from vigil.app import create_app
    from vigil.capture.daemon import CaptureDaemon
    from vigil.capture.dispatch import FrameDispatcher
    from vigil.capture.site import camera_daemon

    names = parse_algorithms(ctx, algorithms)
    overrides = {"broker_url": broker_url, "result_backend": result_backend, "frame_width": width,
                 "frame_height": height}
    if source is None and config is None:
        raise click.UsageError("give --source (one camera) or --config (the cameras of a site file)")
    if source is None and camera is None:
        assert config is not None
        _supervise(ctx, config)
        return
    if source is None and names:
        raise click.UsageError("--algorithms applies to --source; a site file gives each camera's algorithms")
    if source is not None and camera is None:
        raise click.UsageError("--source needs --camera NAME")
    assert camera is not None
    stop = threading.Event()
    stop_on_signals(stop)
    try:
        if source is None:
            assert config is not None
            site = load_site(config, **overrides)
            settings = site.settings
            app = create_app(settings)
            daemon = camera_daemon(
                site, camera, FrameDispatcher(app, settings), fps=fps, loop=loop, max_frames=max_frames, fast=fast,
                reconnect_timeout=reconnect_timeout,
            )
        else:
            settings = load_site(config, **overrides).settings if config else load_settings(ctx, **overrides)
            app = create_app(settings)
            daemon = CaptureDaemon(
                camera=camera, source=source, algorithms=names or settings.algorithms,
                dispatcher=FrameDispatcher(app, settings), settings=settings, fps=fps,
                max_frames=max_frames, loop=loop, fast=fast, reconnect_timeout=reconnect_timeout,
            )
        stats = daemon.run(stop)
    except (CaptureError, QueueMismatchError, ConfigError) as exc:
        fail(exc)
    gated = f", {stats.gated} without detection (still)" if stats.gated else ""
    click.echo(f"camera {camera}: {stats.captured} captured, {stats.sent} sent, {stats.dropped} dropped{gated}",
               err=True)
    if stats.captured and not stats.sent and daemon.broker_error:
        fail(BrokerUnavailableError(f"no frame was sent: the broker was never reachable ({daemon.broker_error})"))


def _supervise(ctx: click.Context, config: Path) -> None:
    """Every camera of the site file, each in its own supervised ``vigil capture`` process."""
    from vigil.capture.site import child_command
    from vigil.capture.supervisor import Supervisor

    site = load_site(config)
    if not site.cameras:
        fail(ConfigError(f"{config}: no [cameras.<name>] table: nothing to capture"))
    flags, env = [], dict(os.environ)
    for name, value in ctx.params.items():
        if name in ("camera", "source", "config", "algorithms") or value in (None, False):
            continue
        if name in ("broker_url", "result_backend"):
            env[f"VIGIL_{name.upper()}"] = value  # in the environment, not on a command line `ps` shows
            continue
        option = "--" + name.replace("_", "-")
        flags += [option] if value is True else [option, str(value)]
    commands = {name: child_command(str(config), name, flags) for name in site.cameras}
    stop = threading.Event()
    stop_on_signals(stop)
    codes = Supervisor(commands, sys.stderr, env=env).run(stop)
    failed = {name: code for name, code in codes.items() if code != 0}
    if failed:
        click.echo(f"vigil capture: cameras that failed: {failed}", err=True)
        sys.exit(EX_CONFIG if EX_CONFIG in failed.values() else EX_UNAVAILABLE)
