"""The ``vigil`` command."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from vigil.errors import BrokerUnavailableError, CaptureError, ConfigError, QueueMismatchError, VigilError
from vigil.logs import configure_logging
from vigil.settings import CONFIG_ENV, Settings, describe_settings

if TYPE_CHECKING:
    from vigil.config import SiteConfig
    from vigil.stream.auth import AuthConfig

log = logging.getLogger("vigil")

EX_OK = 0
EX_USAGE = 2
EX_UNAVAILABLE = 69  # sysexits.h: a camera or service is unavailable
EX_CONFIG = 78  # sysexits.h: configuration error
DEMO_SOURCE = "demo=demo"  # `vigil run` with no --source: the built-in demo camera, named "demo"

MAIN_EPILOG = """\b
How the pieces fit:
  camera --> vigil capture --> RabbitMQ queues fall|emotion|pose|blink
         --> celery -A vigil worker -Q fall,emotion,pose,blink (any number, any machine)
         --> Redis results --> vigil stream (joins, events, live MJPEG view on HTTP)

\b
Try it on one machine, no RabbitMQ or Redis needed:
  vigil run --source synthetic --max-frames 300 --report report.json
  vigil run --source 0                      # webcam 0, open http://127.0.0.1:8080
\b
Distributed (RabbitMQ on 5672, Redis on 6379):
  celery -A vigil worker -Q fall,emotion,pose,blink
  vigil capture --camera door --source rtsp://10.0.0.7/stream --fps 15
  vigil stream --port 8080
  celery -A vigil flower --address=127.0.0.1 --basic-auth=admin:CHOOSE-ONE
\b
A whole site from one file (cameras, rates per algorithm, masks, zones, rule options):
  vigil config check vigil.toml
  vigil capture --config vigil.toml         # one supervised process per camera
  vigil run --config vigil.toml             # or everything in one process
Beyond one machine, log in (vigil user add NAME --config vigil.toml) and serve HTTPS
([auth] tls_cert, tls_key): `vigil user --help`.
\b
Every setting also comes from a VIGIL_* environment variable: `vigil settings`.
"""


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    """The settings, or exit 78 naming the bad one."""
    try:
        settings = Settings.load(overrides)
    except ConfigError as exc:
        _fail(exc)
    configure_logging(settings.log_level)
    return settings


def _site(config: Path, **overrides: Any) -> SiteConfig:
    """The site file with its settings, or exit 78 naming the file, table and key."""
    from vigil.config import load_site_config

    try:
        site = load_site_config(config, overrides)
    except ConfigError as exc:
        _fail(exc)
    configure_logging(site.settings.log_level)
    return site


def _auth(site: SiteConfig | None, host: str, insecure: bool, command: str) -> AuthConfig:
    """The site file's [auth] table; exit 78 if it is bad, or if ``host`` would expose an open server."""
    from vigil.stream.auth import AuthConfig, check_exposure

    try:
        auth = site.access() if site is not None else AuthConfig()
        check_exposure(host, auth, insecure, command)
    except ConfigError as exc:
        _fail(exc)
    if insecure and not auth.enabled:
        log.warning("%s: serving on %s with no login (--insecure): anyone who reaches it can watch", command, host)
    return auth


def _writable(path: Path | None, what: str) -> None:
    """Exit 78 now, before any work, if ``path`` (when given) cannot be written."""
    from vigil.paths import check_writable

    if path is not None and str(path) != ":memory:":
        try:
            check_writable(path, what)
        except ConfigError as exc:
            _fail(exc)


def _event_paths(settings: Settings) -> None:
    """Exit 78 now if the event store's SQLite file or the media folder cannot be written."""
    from vigil.paths import check_writable_dir
    from vigil.stream.store_schema import sqlite_path

    database = sqlite_path(settings.events_url)
    if database is not None:
        _writable(Path(database), "VIGIL_EVENTS_URL")
    try:
        check_writable_dir(settings.media_dir, "VIGIL_MEDIA_DIR")
    except ConfigError as exc:
        _fail(exc)


def _algorithms(ctx: click.Context, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    from vigil.detectors.registry import algorithm_names, unknown_algorithm_message

    names = tuple(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
    known = algorithm_names()
    for name in names:
        if name not in known:
            raise click.BadParameter(unknown_algorithm_message(name, known), ctx, param_hint="'--algorithms'")
    return names


config_option = click.option(
    "--config", type=click.Path(dir_okay=False, path_type=Path), envvar=CONFIG_ENV, show_envvar=True,
    help="The site file (vigil.toml): settings, cameras, rates, masks, zones, rule options, logins.",
)


def _fail(exc: VigilError) -> NoReturn:
    code = EX_CONFIG if isinstance(exc, ConfigError) else EX_UNAVAILABLE
    click.echo(f"vigil: error: {exc}", err=True)
    sys.exit(code)


broker_option = click.option(
    "--broker-url", envvar="VIGIL_BROKER_URL", show_envvar=True,
    help="RabbitMQ URL (default amqp://guest:guest@127.0.0.1:5672//).",
)
backend_option = click.option(
    "--result-backend", envvar="VIGIL_RESULT_BACKEND", show_envvar=True,
    help="Redis URL for results (default redis://127.0.0.1:6379/0).",
)
algorithms_option = click.option(
    "--algorithms", metavar="LIST",
    help="Comma-separated algorithms to run on every frame: fall,emotion,pose,blink (default: all).",
)
serve_options = [
    click.option("--host", default="127.0.0.1", show_default=True,
                 help="Address to serve HTTP on; beyond loopback a login is required (`vigil user add`)."),
    click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
                 help="HTTP port (0 picks a free one)."),
    click.option("--insecure", is_flag=True,
                 help="Serve beyond loopback with no user or token configured (anyone can watch)."),
]
size_options = [
    click.option("--width", type=click.IntRange(min=0), help="Resize frames to this width (default 640; 0 keeps)."),
    click.option("--height", type=click.IntRange(min=0), help="Resize frames to this height (default: keep aspect)."),
]


def _add(options: list[Any]) -> Any:
    def decorate(function: Any) -> Any:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


@click.group(epilog=MAIN_EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="vigil")
def main() -> None:
    """Vigil: real-time fall, emotion, head-pose and blink detection on live video.

    Frames are captured, resized and JPEG-encoded once, sent as one Celery task per
    algorithm through bounded RabbitMQ queues (stale frames are dropped, never queued
    behind the live one), processed by any number of workers, joined per frame in
    order by the streamer, and served as an annotated live view with events.
    """


@main.command(epilog="""\b
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
@_add(size_options)
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

    names = _algorithms(ctx, algorithms)
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
    _stop_on_signals(stop)
    try:
        if source is None:
            assert config is not None
            site = _site(config, **overrides)
            settings = site.settings
            app = create_app(settings)
            daemon = camera_daemon(
                site, camera, FrameDispatcher(app, settings), fps=fps, loop=loop, max_frames=max_frames, fast=fast,
                reconnect_timeout=reconnect_timeout,
            )
        else:
            settings = _site(config, **overrides).settings if config else _settings(ctx, **overrides)
            app = create_app(settings)
            daemon = CaptureDaemon(
                camera=camera, source=source, algorithms=names or settings.algorithms,
                dispatcher=FrameDispatcher(app, settings), settings=settings, fps=fps,
                max_frames=max_frames, loop=loop, fast=fast, reconnect_timeout=reconnect_timeout,
            )
        stats = daemon.run(stop)
    except (CaptureError, QueueMismatchError, ConfigError) as exc:
        _fail(exc)
    gated = f", {stats.gated} without detection (still)" if stats.gated else ""
    click.echo(f"camera {camera}: {stats.captured} captured, {stats.sent} sent, {stats.dropped} dropped{gated}",
               err=True)
    if stats.captured and not stats.sent and daemon.broker_error:
        _fail(BrokerUnavailableError(f"no frame was sent: the broker was never reachable ({daemon.broker_error})"))


def _supervise(ctx: click.Context, config: Path) -> None:
    """Every camera of the site file, each in its own supervised ``vigil capture`` process."""
    from vigil.capture.site import child_command
    from vigil.capture.supervisor import Supervisor

    site = _site(config)
    if not site.cameras:
        _fail(ConfigError(f"{config}: no [cameras.<name>] table: nothing to capture"))
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
    _stop_on_signals(stop)
    codes = Supervisor(commands, sys.stderr, env=env).run(stop)
    failed = {name: code for name, code in codes.items() if code != 0}
    if failed:
        click.echo(f"vigil capture: cameras that failed: {failed}", err=True)
        sys.exit(EX_CONFIG if EX_CONFIG in failed.values() else EX_UNAVAILABLE)


@main.command(epilog="""\b
Examples:
  vigil stream                       # http://127.0.0.1:8080
  vigil user add alice --config vigil.toml && vigil stream --host 0.0.0.0 --config vigil.toml
\b
Then open / in a browser, or: curl localhost:8080/cameras; curl localhost:8080/metrics
(with a login: curl -H "Authorization: Bearer $TOKEN" ..., a token from `vigil user token`).
HTTPS: set tls_cert and tls_key in the file's [auth] table.
""")
@_add(serve_options)
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path),
              help="Append every joined frame and event to this file as JSON lines (audits, benchmarks).")
@config_option
@broker_option
@backend_option
@click.pass_context
def stream(ctx: click.Context, host: str, port: int, insecure: bool, record: Path | None, config: Path | None,
           broker_url: str | None, result_backend: str | None) -> None:
    """Join every algorithm's result per frame, run the event rules, serve the live view.

    May run on another machine than capture and workers: it needs only the broker
    (for frames) and the result backend (for results and events).
    """
    from vigil.stream.recorder import JsonLinesRecorder
    from vigil.stream.service import distributed_streamer

    site = _site(config, broker_url=broker_url, result_backend=result_backend) if config else None
    settings = site.settings if site else _settings(ctx, broker_url=broker_url, result_backend=result_backend)
    auth = _auth(site, host, insecure, "vigil stream")
    _writable(record, "--record")
    _event_paths(settings)
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        service = distributed_streamer(settings, host, port, JsonLinesRecorder(record) if record else None, site,
                                       auth)
        service.start()
    except VigilError as exc:
        _fail(exc)
    click.echo(f"vigil stream: serving on {service.url}", err=True)
    stop.wait()
    service.stop()


@main.command(epilog="""\b
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
@_add(size_options)
@click.option("--max-frames", type=click.IntRange(min=1), help="Stop each camera after this many frames.")
@click.option("--loop", is_flag=True, help="Replay video files when they end.")
@click.option("--fast", is_flag=True, help="Send files as fast as possible (benchmarks).")
@_add(serve_options)
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

    names = _algorithms(ctx, algorithms)
    overrides: dict[str, Any] = {"frame_width": width, "frame_height": height}
    if names:
        overrides["algorithms"] = names
    if not sources and config is None:
        sources = (DEMO_SOURCE,)  # the quick-start: the built-in demo camera
    site_file = _site(config, **overrides) if config else None
    site = None if sources else site_file  # with --source, the file gives only its [vigil] settings
    settings = site_file.settings if site_file else _settings(ctx, **overrides)
    auth = _auth(site_file, host if not no_http else "127.0.0.1", insecure, "vigil run")
    _writable(report, "--report")
    _event_paths(settings)
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        result = run_embedded(
            settings, _named_sources(ctx, sources), fps=fps, max_frames=max_frames, loop=loop, fast=fast,
            host=host, port=None if no_http else port, workers=workers, stop=stop, record=report is not None,
            site=site, auth=auth, notify=site_file.notifications() if site_file else None,
        )
    except VigilError as exc:
        _fail(exc)
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


@main.command(name="settings", epilog="With a site file, its cameras, [mqtt], [[webhooks]] and [auth] follow "
              "as JSON, secrets shown as ***.")
@config_option
def settings_command(config: Path | None) -> None:
    """List every setting, its VIGIL_* variable, default and current value (and the site file's cameras)."""
    import json

    from vigil.config import describe_site, load_site_config
    from vigil.redact import redact

    try:
        site = load_site_config(config) if config else None
        current = site.settings if site else Settings.load()
    except ConfigError as exc:
        _fail(exc)
    for name, env, default, doc in describe_settings():
        value = getattr(current, name)
        value = ",".join(value) if isinstance(value, tuple) else value
        if isinstance(value, str):
            value = redact(value)  # a password in a URL is never printed
        click.echo(f"{env}\n    {doc}\n    default: {default!r}   current: {value!r}")
    if site is not None:
        click.echo(f"\n# {config}: cameras and the other tables (secrets redacted)")
        click.echo(json.dumps(describe_site(site), indent=2))


@main.group(name="config")
def config_group() -> None:
    """The site file (vigil.toml): check it before starting anything."""


@config_group.command(name="check", epilog="""\b
Examples:
  vigil config check vigil.toml && systemctl restart vigil-capture@door
\b
Exit status: 0 valid, 78 invalid (the message names the file, the table and the key).
""")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def config_check(file: Path) -> None:
    """Validate FILE (every table and key, the camera names, rates, polygons, rule options) and exit."""
    from vigil.config import load_site_config

    try:
        site = load_site_config(file)
    except ConfigError as exc:
        _fail(exc)
    described = []
    for name, camera in site.cameras.items():
        rates = camera.rates(site.settings.algorithms).items()
        described.append(f"{name} ({', '.join(f'{a} {r:g}/s' if r else a for a, r in rates)})")
    cameras = "; ".join(described)
    click.echo(f"{file}: valid; cameras: {cameras or 'none'}")


@main.command(epilog="Example: vigil evaluate --data ../shared/data --output docs/accuracy.md\n\n"
               "Any folder with a labels.json works; its format is in docs/labels.md.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=Path("../shared/data"), show_default=True, help="Folder with the clips and labels.json.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Also write the table here.")
@click.option("--rates", metavar="LIST",
              help="Instead: score each detector at these frame rates (e.g. 15,10,5,3,2), as capture would send it.")
@algorithms_option
@click.pass_context
def evaluate(ctx: click.Context, data_dir: Path, output: Path | None, rates: str | None,
             algorithms: str | None) -> None:
    """Run every detector and its event rule over labelled clips and print the accuracy table."""
    configure_logging("INFO")
    args = sys.argv[sys.argv.index("evaluate") + 1:] if "evaluate" in sys.argv else []
    command = " ".join(["vigil evaluate", *args]).strip()
    if rates is None:
        from vigil.evaluation import run_evaluation

        try:
            click.echo(run_evaluation(data_dir, output, command=command))
        except ConfigError as exc:
            _fail(exc)
        return
    from vigil.evaluation.rates import measure_rates, render_rates

    try:
        values = [float(v) for v in rates.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter("a comma-separated list of frames per second", ctx, param_hint="'--rates'") from None
    names = _algorithms(ctx, algorithms) or ("fall", "blink", "pose", "emotion")
    try:
        text = render_rates(measure_rates(data_dir, names, values), command)
    except ConfigError as exc:
        _fail(exc)
    if output is not None:
        output.write_text(text)
    click.echo(text)


from vigil.bench.command import bench  # noqa: E402  (defined beside the benchmark it runs)

main.add_command(bench)
from vigil.stream.user_command import user  # noqa: E402  (beside the logins it writes)

main.add_command(user)


if __name__ == "__main__":
    main()
