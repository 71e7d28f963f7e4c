"""Vigil's settings: one immutable object, built once, the only reader of ``VIGIL_*``.

Precedence, highest first: explicit overrides (command-line flags) > ``VIGIL_*``
environment variables > the TOML file named by ``VIGIL_CONFIG`` (a ``[vigil]`` table)
> the defaults below. Every setting is documented in its field's metadata; ``vigil
settings`` prints them all, and the README's reference is generated from the same table.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vigil.detectors.registry import BUILTIN
from vigil.errors import ConfigError
from vigil.setting_values import (
    algorithm_names,
    boolean,
    existing_file,
    fraction,
    int_in,
    non_negative_float,
    positive_float,
    store_url,
    text,
    url,
)

DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_RESULT_BACKEND = "redis://127.0.0.1:6379/0"
DEFAULT_ALGORITHMS = tuple(BUILTIN)  # the built-in detectors, in the registry's order
DEFAULT_JPEG_QUALITY = 80
DEFAULT_MAX_PAYLOAD_BYTES = 2 * 1024 * 1024
DEFAULT_QUEUE_MAX_LENGTH = 4
DEFAULT_FEED_MAX_LENGTH = 64
DEFAULT_MAX_FRAME_AGE = 2.0
DEFAULT_RESULT_EXPIRES = 60
DEFAULT_RESULT_DEADLINE = 1.0
DEFAULT_FRAME_WIDTH = 640
DEFAULT_EVENTS_URL = "vigil-events.sqlite3"
DEFAULT_MEDIA_DIR = "vigil-media"
DEFAULT_CLIP_BEFORE_S = 5.0
DEFAULT_CLIP_AFTER_S = 5.0
DEFAULT_RETENTION_DAYS = 30.0
DEFAULT_RETENTION_MAX_MB = 2048
DEFAULT_MAX_CAMERAS = 64
DEFAULT_HTTP_MAX_CONNECTIONS = 256
DEFAULT_HTTP_MAX_VIEWERS = 128
DEFAULT_HTTP_HEADER_TIMEOUT = 10.0
DEFAULT_HTTP_VIEWER_TIMEOUT = 10.0
DEFAULT_HEALTH_MAX_INCOMPLETE = 0.2
ENV_PREFIX = "VIGIL_"
CONFIG_ENV = "VIGIL_CONFIG"
# VIGIL_* variables that are not settings: the config file, test and benchmark inputs, and the
# scripts' virtual environment (.ci/run exports VIGIL_VENV to everything it runs).
NON_SETTING_ENV = frozenset({CONFIG_ENV, "VIGIL_DATA_DIR", "VIGIL_VENV"})
NON_SETTING_ENV_PREFIXES = ("VIGIL_TEST_",)
# The tables of the site file (vigil/config.py); Settings reads only [vigil].
SITE_TABLES = ("vigil", "cameras", "mqtt", "webhooks", "auth")


def _setting(default: Any, parse: Callable[[Any], Any], doc: str) -> Any:
    return dataclasses.field(default=default, metadata={"parse": parse, "doc": doc})


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every Vigil setting. Build it with :meth:`Settings.load`."""

    broker_url: str = _setting(
        DEFAULT_BROKER_URL, url, "Celery broker (RabbitMQ). `memory://` only inside `vigil run`."
    )
    result_backend: str = _setting(
        DEFAULT_RESULT_BACKEND, url, "Celery result backend (Redis); the streamer reads results here."
    )
    algorithms: tuple[str, ...] = _setting(
        DEFAULT_ALGORITHMS,
        algorithm_names,
        "Comma-separated algorithms: the queues Celery declares and the default of `--algorithms`.",
    )
    jpeg_quality: int = _setting(DEFAULT_JPEG_QUALITY, int_in(1, 100), "JPEG quality of frames on the wire.")
    frame_width: int = _setting(
        DEFAULT_FRAME_WIDTH, int_in(0), "Width frames are resized to before encoding (0 keeps the source's)."
    )
    frame_height: int = _setting(
        0, int_in(0), "Height frames are resized to (0 keeps the aspect ratio of the width)."
    )
    max_payload_bytes: int = _setting(
        DEFAULT_MAX_PAYLOAD_BYTES, int_in(1024), "Largest encoded frame accepted, in bytes; larger is refused."
    )
    queue_max_length: int = _setting(
        DEFAULT_QUEUE_MAX_LENGTH,
        int_in(1),
        "Ready frames an algorithm queue holds (`x-max-length`); older ones are dropped first.",
    )
    feed_max_length: int = _setting(
        DEFAULT_FEED_MAX_LENGTH,
        int_in(1),
        "Frames a streamer's own feed queue holds before dropping the oldest.",
    )
    max_frame_age: float = _setting(
        DEFAULT_MAX_FRAME_AGE,
        positive_float,
        "Seconds a frame may wait before it is stale: queue message TTL and task `expires`.",
    )
    result_expires: int = _setting(
        DEFAULT_RESULT_EXPIRES, int_in(1), "Seconds Redis keeps a result (bounds Redis memory)."
    )
    result_deadline: float = _setting(
        DEFAULT_RESULT_DEADLINE,
        positive_float,
        "Seconds the streamer waits for a frame's results before emitting it incomplete.",
    )
    share_faces: bool = _setting(
        True,
        boolean,
        "Emotion, pose and blink find a frame's faces once and share them (through the result backend's "
        "Redis between processes); `false`: each task runs the face models itself.",
    )
    task_events: bool = _setting(
        True,
        boolean,
        "Workers send task events (what Flower shows); `false` saves ~3 broker messages a task.",
    )
    detector_override: str = _setting(
        "",
        text,
        "Benchmarks only: `null`, `busy:MS` or `sleep:MS` replaces every detector in a worker.",
    )
    # -- events: the durable store, snapshots and clips (docs/events.md, "Store, media and HTTP") --
    events_url: str = _setting(
        DEFAULT_EVENTS_URL,
        store_url,
        "Event store: a SQLite file (WAL) on this host, or `postgresql://user@host/db` for a central database; "
        "`:memory:` keeps nothing (tests).",
    )
    media_dir: str = _setting(
        DEFAULT_MEDIA_DIR, text, "Folder of event snapshots (JPEG) and clips (WebM), kept beside the event store."
    )
    clip_before_s: float = _setting(
        DEFAULT_CLIP_BEFORE_S, non_negative_float, "Seconds of annotated video an event's clip keeps before it fired."
    )
    clip_after_s: float = _setting(
        DEFAULT_CLIP_AFTER_S, non_negative_float, "Seconds of annotated video an event's clip keeps after it fired."
    )
    retention_days: float = _setting(
        DEFAULT_RETENTION_DAYS,
        positive_float,
        "Events (rows, snapshots and clips together) older than this many days are deleted.",
    )
    retention_max_mb: int = _setting(
        DEFAULT_RETENTION_MAX_MB,
        int_in(0),
        "Snapshots and clips may use this many MB; past it the oldest events are deleted (0: no size limit).",
    )
    max_cameras: int = _setting(
        DEFAULT_MAX_CAMERAS, int_in(1), "Cameras a streamer follows; frames of more cameras are refused and counted."
    )
    http_max_connections: int = _setting(
        DEFAULT_HTTP_MAX_CONNECTIONS,
        int_in(2),
        "Open HTTP connections; past it the oldest idle one is closed (lowered to fit the open-files limit).",
    )
    http_max_viewers: int = _setting(
        DEFAULT_HTTP_MAX_VIEWERS,
        int_in(1),
        "MJPEG and event-stream clients at once (fewer than `http_max_connections`); more get 503.",
    )
    http_header_timeout: float = _setting(
        DEFAULT_HTTP_HEADER_TIMEOUT,
        positive_float,
        "Seconds an HTTP connection may sit with no request in progress (slow request head, idle keep-alive).",
    )
    http_viewer_timeout: float = _setting(
        DEFAULT_HTTP_VIEWER_TIMEOUT,
        positive_float,
        "Seconds an MJPEG or event-stream client may take no data before it is dropped.",
    )
    log_level: str = _setting("INFO", lambda v: text(v).upper(), "Log level of Vigil's commands.")
    # -- the site file (vigil/config.py) --------------------------------------------------
    draw_zones: bool = _setting(
        False, boolean, "Draw each camera's zones and masks (from the site file) on the live view."
    )

    # -- ops: health and TLS to the broker and Redis (vigil/stream/health.py, vigil/tls.py) ----------
    health_max_incomplete: float = _setting(
        DEFAULT_HEALTH_MAX_INCOMPLETE,
        fraction,
        "Share (0-1) of the last minute's frames that may go out with results missing before `/healthz` says 503.",
    )
    tls_ca_file: str = _setting(
        "", existing_file,
        "CA bundle (PEM) that signed the `amqps://` broker's and `rediss://` Redis's certificates "
        "(default: the system's CAs).",
    )
    tls_cert_file: str = _setting(
        "", existing_file, "Client certificate (PEM) for `amqps://` and `rediss://`, when the servers require one.",
    )
    tls_key_file: str = _setting("", existing_file, "Private key (PEM) of `tls_cert_file`.")

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from defaults, the config file, the environment and overrides.

        Args:
            overrides: values from flags; ``None`` values are ignored.
            environ: the environment to read (``os.environ`` by default).

        Raises:
            ConfigError: an unknown key or a bad value, naming where it came from.
        """
        environ = os.environ if environ is None else environ
        names = {field.name for field in dataclasses.fields(cls)}
        layers: list[tuple[str, Mapping[str, Any]]] = []
        config_path = environ.get(CONFIG_ENV)
        if config_path:
            layers.append((config_path, _read_config_file(Path(config_path), names)))
        layers.append(
            (
                "environment",
                {
                    key[len(ENV_PREFIX):].lower(): value
                    for key, value in environ.items()
                    if key.startswith(ENV_PREFIX)
                    and key not in NON_SETTING_ENV
                    and not key.startswith(NON_SETTING_ENV_PREFIXES)
                },
            )
        )
        layers.append(("command line", {k: v for k, v in (overrides or {}).items() if v is not None}))
        values: dict[str, Any] = {}
        for origin, layer in layers:
            for key, raw in layer.items():
                if key not in names:
                    if origin == "environment":
                        raise ConfigError(
                            f"unknown environment variable {ENV_PREFIX}{key.upper()}; "
                            f"known: {', '.join(ENV_PREFIX + n.upper() for n in sorted(names))}"
                        )
                    where = f"{origin}: [vigil] {key}: " if origin == config_path else ""
                    raise ConfigError(f"{where}unknown setting {key!r} in {origin}; known: {', '.join(sorted(names))}")
                values[key] = _parse_value(key, raw, origin)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (values are validated)."""
        return dataclasses.replace(
            self, **{key: _parse_value(key, value, "code") for key, value in changes.items()}
        )

    @property
    def max_frame_age_ms(self) -> int:
        return int(self.max_frame_age * 1000)


def _parse_value(key: str, raw: Any, origin: str) -> Any:
    field = _FIELDS[key]
    try:
        return field.metadata["parse"](raw)
    except (TypeError, ValueError, OverflowError) as exc:
        env = f" ({ENV_PREFIX}{key.upper()})" if origin == "environment" else ""
        raise ConfigError(f"bad value {raw!r} for setting {key!r}{env} from {origin}: {exc}") from None


def _read_config_file(path: Path, names: set[str]) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} ({CONFIG_ENV}) does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    # A site file (vigil.config) has [vigil] beside [cameras...]; an older file may be flat.
    table = data.get("vigil", {}) if "vigil" in data or set(data) & set(SITE_TABLES) else data
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [vigil] must be a table")
    return table


def describe_settings() -> list[tuple[str, str, str, str]]:
    """(setting, environment variable, default, description) for every setting."""
    rows = []
    for field in dataclasses.fields(Settings):
        default = field.default
        if isinstance(default, tuple):
            default = ",".join(default)
        rows.append((field.name, ENV_PREFIX + field.name.upper(), str(default), field.metadata["doc"]))
    return rows


_FIELDS = {field.name: field for field in dataclasses.fields(Settings)}
