"""The ``vigil`` command."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

import click

from vigil.errors import BrokerUnavailableError, CaptureError, ConfigError, QueueMismatchError, VigilError
from vigil.logs import configure_logging
from vigil.settings import Settings, describe_settings
from vigil.stream.auth import AuthConfig

log = logging.getLogger("vigil")

EX_OK = 0
EX_USAGE = 2
EX_UNAVAILABLE = 69  # sysexits.h: a camera or service is unavailable
EX_CONFIG = 78  # sysexits.h: configuration error

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


def _settings(ctx: click.Context, config: Path | None = None, **overrides: Any) -> Settings:
    """The settings (from the site file ``config`` when given), or exit 78 naming the bad one."""
    environ = dict(os.environ, VIGIL_CONFIG=str(config)) if config is not None else None
    try:
        settings = Settings.load(overrides, environ)
    except ConfigError as exc:
        _fail(exc)
    configure_logging(settings.log_level)
    return settings


def _auth(config: Path | None, host: str, insecure: bool, command: str) -> AuthConfig:
    """The site file's [auth] table; exit 78 if it is bad, or if ``host`` would expose an open server."""
    from vigil.stream.auth import check_exposure, read_auth_config

    try:
        auth = read_auth_config(config)  # the lead swaps this for vigil.config's loader
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
config_option = click.option(
    "--config", type=click.Path(dir_okay=False, exists=True, path_type=Path), envvar="VIGIL_CONFIG",
    show_envvar=True, help="Site file (vigil.toml): [vigil] settings, [auth] logins, Host names and HTTPS.",
)
serve_options = [
    click.option("--host", default="127.0.0.1", show_default=True,
                 help="Address to serve HTTP on; beyond loopback a login is required (`vigil user add`)."),
    click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
                 help="HTTP port (0 picks a free one)."),
    click.option("--insecure", is_flag=True,
                 help="Serve beyond loopback with no user or token configured (anyone can watch)."),
    config_option,
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
\b
One process per camera: run one `vigil capture` for each (e.g. a systemd template
unit vigil-capture@door.service), each with its own --camera name.
""")
@click.option("--camera", required=True, help="Camera name: letters, digits, '-', '_' (used in URLs).")
@click.option("--source", required=True, help="Webcam index (0), RTSP/HTTP URL, video file, or 'synthetic'.")
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
def capture(ctx: click.Context, camera: str, source: str, algorithms: str | None, fps: float | None,
            width: int | None, height: int | None, max_frames: int | None, loop: bool, fast: bool,
            reconnect_timeout: float | None, broker_url: str | None, result_backend: str | None) -> None:
    """Capture a camera and send every frame to the detector queues.

    The read loop never waits for the broker: when it is slow or down, frames are
    dropped and counted, and sending resumes within seconds of its return. A failing
    camera is reopened with capped exponential backoff. Ctrl-C stops cleanly.
    """
    from vigil.app import create_app
    from vigil.capture.daemon import CaptureDaemon
    from vigil.capture.dispatch import FrameDispatcher

    names = _algorithms(ctx, algorithms)
    settings = _settings(ctx, broker_url=broker_url, result_backend=result_backend,
                         frame_width=width, frame_height=height)
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        app = create_app(settings)
        daemon = CaptureDaemon(
            camera=camera, source=source, algorithms=names or settings.algorithms,
            dispatcher=FrameDispatcher(app, settings), settings=settings, fps=fps,
            max_frames=max_frames, loop=loop, fast=fast, reconnect_timeout=reconnect_timeout,
        )
        stats = daemon.run(stop)
    except (CaptureError, QueueMismatchError, ConfigError) as exc:
        _fail(exc)
    click.echo(f"camera {camera}: {stats.captured} captured, {stats.sent} sent, {stats.dropped} dropped", err=True)
    if stats.captured and not stats.sent and daemon.broker_error:
        _fail(BrokerUnavailableError(f"no frame was sent: the broker was never reachable ({daemon.broker_error})"))


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
@broker_option
@backend_option
@click.pass_context
def stream(ctx: click.Context, host: str, port: int, insecure: bool, config: Path | None, record: Path | None,
           broker_url: str | None, result_backend: str | None) -> None:
    """Join every algorithm's result per frame, run the event rules, serve the live view.

    May run on another machine than capture and workers: it needs only the broker
    (for frames) and the result backend (for results and events).
    """
    from vigil.stream.recorder import JsonLinesRecorder
    from vigil.stream.service import distributed_streamer

    settings = _settings(ctx, config, broker_url=broker_url, result_backend=result_backend)
    auth = _auth(config, host, insecure, "vigil stream")
    _writable(record, "--record")
    if not settings.result_backend.startswith(("redis://", "rediss://", "unix://")):
        _writable(Path(settings.events_db), "VIGIL_EVENTS_DB")
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        service = distributed_streamer(settings, host, port, JsonLinesRecorder(record) if record else None, auth)
        service.start()
    except VigilError as exc:
        _fail(exc)
    click.echo(f"vigil stream: serving on {service.url}", err=True)
    stop.wait()
    service.stop()


@main.command(epilog="""\b
Examples:
  vigil run --source synthetic --max-frames 300 --report report.json
  vigil run --source 0                               # webcam, view on http://127.0.0.1:8080
  vigil run --source door=clip1.mp4 --source hall=clip2.mp4 --algorithms fall
""")
@click.option("--source", "sources", multiple=True, required=True,
              help="Source (webcam index, URL, file, 'synthetic'), optionally NAME=SOURCE; repeat for more cameras.")
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
def run(ctx: click.Context, sources: tuple[str, ...], algorithms: str | None, fps: float | None,
        width: int | None, height: int | None, max_frames: int | None, loop: bool, fast: bool,
        host: str, port: int, insecure: bool, config: Path | None, no_http: bool, workers: int,
        report: Path | None) -> None:
    """Run capture, workers and streamer in one process (no RabbitMQ, no Redis).

    The same tasks and code paths as distributed mode, on Celery's in-memory broker
    and result backend. Stops when every source has ended (or on Ctrl-C).
    """
    from vigil.embedded import run_embedded, write_report

    names = _algorithms(ctx, algorithms)
    overrides: dict[str, Any] = {"frame_width": width, "frame_height": height}
    if names:
        overrides["algorithms"] = names
    settings = _settings(ctx, config, **overrides)
    auth = _auth(config, host if not no_http else "127.0.0.1", insecure, "vigil run")
    _writable(report, "--report")
    _writable(Path(settings.events_db), "VIGIL_EVENTS_DB")
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        result = run_embedded(
            settings, _named_sources(ctx, sources), fps=fps, max_frames=max_frames, loop=loop, fast=fast,
            host=host, port=None if no_http else port, workers=workers, stop=stop, record=report is not None,
            auth=auth,
        )
    except VigilError as exc:
        _fail(exc)
    latency = result["latency"]["end_to_end"]
    click.echo(
        f"vigil run: {result['frames_emitted']} frames ({result['frames_complete']} complete) in "
        f"{result['elapsed']:.1f} s; end-to-end p50 {latency['p50'] * 1000:.1f} ms, "
        f"p99 {latency['p99'] * 1000:.1f} ms; {result['event_count']} events",
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


@main.command(name="settings")
def settings_command() -> None:
    """List every setting, its VIGIL_* variable, default and current value."""
    try:
        current = Settings.load()
    except ConfigError as exc:
        _fail(exc)
    from vigil.redact import redact

    for name, env, default, doc in describe_settings():
        value = getattr(current, name)
        value = ",".join(value) if isinstance(value, tuple) else value
        if isinstance(value, str):
            value = redact(value)  # a password in a URL is never printed
        click.echo(f"{env}\n    {doc}\n    default: {default!r}   current: {value!r}")


@main.command(epilog="Example: vigil evaluate --data ../shared/data --output docs/accuracy.md\n\n"
               "Any folder with a labels.json works; its format is in docs/labels.md.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=Path("../shared/data"), show_default=True, help="Folder with the clips and labels.json.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Also write the table here.")
def evaluate(data_dir: Path, output: Path | None) -> None:
    """Run every detector and its event rule over labelled clips and print the accuracy table."""
    from vigil.evaluation import run_evaluation

    configure_logging("INFO")
    args = sys.argv[sys.argv.index("evaluate") + 1:] if "evaluate" in sys.argv else []
    command = " ".join(["vigil evaluate", *args])
    click.echo(run_evaluation(data_dir, output, command=command.strip()))


from vigil.bench.command import bench  # noqa: E402  (defined beside the benchmark it runs)

main.add_command(bench)
from vigil.stream.user_command import user  # noqa: E402  (beside the logins it writes)

main.add_command(user)


if __name__ == "__main__":
    main()
