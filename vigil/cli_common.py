"""What every `vigil` command shares: exit codes, common options, loading settings and site files.

Each helper that meets a bad setting, file or path prints ``vigil: error: ...`` and exits 78
(``EX_CONFIG``) before any work starts; an unavailable camera or service exits 69.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from vigil.errors import ConfigError, VigilError
from vigil.logs import configure_logging
from vigil.settings import CONFIG_ENV, Settings

if TYPE_CHECKING:
    from vigil.config import SiteConfig
    from vigil.stream.auth import AuthConfig

log = logging.getLogger("vigil")

EX_OK = 0
EX_USAGE = 2
EX_UNAVAILABLE = 69  # sysexits.h: a camera or service is unavailable
EX_CONFIG = 78  # sysexits.h: configuration error


def fail(exc: VigilError) -> NoReturn:
    """Print the error and exit 78 (a configuration error) or 69 (anything unavailable)."""
    code = EX_CONFIG if isinstance(exc, ConfigError) else EX_UNAVAILABLE
    click.echo(f"vigil: error: {exc}", err=True)
    sys.exit(code)


def stop_on_signals(stop: threading.Event) -> None:
    """Set ``stop`` on SIGINT or SIGTERM."""

    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def load_settings(ctx: click.Context, **overrides: Any) -> Settings:
    """The settings, or exit 78 naming the bad one."""
    try:
        settings = Settings.load(overrides)
    except ConfigError as exc:
        fail(exc)
    configure_logging(settings.log_level)
    return settings


def load_site(config: Path, **overrides: Any) -> SiteConfig:
    """The site file with its settings, or exit 78 naming the file, table and key."""
    from vigil.config import load_site_config

    try:
        site = load_site_config(config, overrides)
    except ConfigError as exc:
        fail(exc)
    configure_logging(site.settings.log_level)
    return site


def serving_auth(site: SiteConfig | None, host: str, insecure: bool, command: str) -> AuthConfig:
    """The site file's [auth] table; exit 78 if it is bad, or if ``host`` would expose an open server."""
    from vigil.stream.auth import AuthConfig, check_exposure

    try:
        auth = site.access() if site is not None else AuthConfig()
        check_exposure(host, auth, insecure, command)
    except ConfigError as exc:
        fail(exc)
    if insecure and not auth.enabled:
        log.warning("%s: serving on %s with no login (--insecure): anyone who reaches it can watch", command, host)
    return auth


def check_output(path: Path | None, what: str) -> None:
    """Exit 78 now, before any work, if ``path`` (when given) cannot be written."""
    from vigil.paths import check_writable

    if path is not None and str(path) != ":memory:":
        try:
            check_writable(path, what)
        except ConfigError as exc:
            fail(exc)


def check_event_paths(settings: Settings) -> None:
    """Exit 78 now if the event store's SQLite file or the media folder cannot be written."""
    from vigil.paths import check_writable_dir
    from vigil.stream.store_schema import sqlite_path

    database = sqlite_path(settings.events_url)
    if database is not None:
        check_output(Path(database), "VIGIL_EVENTS_URL")
    try:
        check_writable_dir(settings.media_dir, "VIGIL_MEDIA_DIR")
    except ConfigError as exc:
        fail(exc)


def parse_algorithms(ctx: click.Context, value: str | None) -> tuple[str, ...] | None:
    """The ``--algorithms`` list, without repeats; a usage error names an unknown one and the nearest."""
    if value is None:
        return None
    from vigil.detectors.registry import algorithm_names, unknown_algorithm_message

    names = tuple(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
    known = algorithm_names()
    for name in names:
        if name not in known:
            raise click.BadParameter(unknown_algorithm_message(name, known), ctx, param_hint="'--algorithms'")
    return names


def add_options(options: list[Any]) -> Any:
    """A decorator adding several click options in the order listed."""

    def decorate(function: Any) -> Any:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


config_option = click.option(
    "--config", type=click.Path(dir_okay=False, path_type=Path), envvar=CONFIG_ENV, show_envvar=True,
    help="The site file (vigil.toml): settings, cameras, rates, masks, zones, rule options, logins.",
)
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
