"""The site file ``vigil.toml``: every camera, its rates, masks, zones and rule options.

One typed, nested schema (pydantic, unknown keys refused everywhere), loaded once by
:func:`load_site_config`. Errors name the file, the table and the key::

    vigil.toml: [cameras.door] algorithms.falll: unknown algorithm; known: fall, emotion, pose, blink

Tables (every key is documented in ``docs/configuration.md``):

- ``[vigil]``: the flat :class:`~vigil.settings.Settings`, with their usual precedence
  (flags > ``VIGIL_*`` > this file > defaults); a file with only ``[vigil]`` is what
  ``VIGIL_CONFIG`` always accepted.
- ``[cameras.<name>]``: :class:`CameraConfig`.
- ``[mqtt]``, ``[[webhooks]]``, ``[auth]``: kept as plain tables here; their owners
  (notifications, login) validate them with their own models.

Polygons (masks, zones) are lists of ``[x, y]`` points in normalized image coordinates
(0..1, origin top-left), so they hold whatever size frames are resized to.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from vigil.detectors.registry import validate_rule_options
from vigil.errors import ConfigError
from vigil.frames import check_camera_name
from vigil.rates import DEFAULT_RATES
from vigil.settings import CONFIG_ENV, SITE_TABLES, Settings

if TYPE_CHECKING:
    from vigil.notify.config import NotifyConfig
    from vigil.stream.auth import AuthConfig

DEFAULT_MOTION_THRESHOLD = 6.0
DEFAULT_MOTION_HOLD_S = 3.0


def _known_algorithm(name: str) -> str:
    from vigil.detectors.registry import algorithm_names

    known = algorithm_names()
    if name not in known:
        raise ValueError(f"unknown algorithm; known: {', '.join(known)}")
    return name


def _camera_name(name: str) -> str:
    try:
        return check_camera_name(name)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


AlgorithmName = Annotated[str, AfterValidator(_known_algorithm)]
CameraName = Annotated[str, AfterValidator(_camera_name)]
Coordinate = Annotated[float, Field(ge=0.0, le=1.0)]
Point = tuple[Coordinate, Coordinate]
Polygon = Annotated[list[Point], Field(min_length=3, max_length=64)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class ZoneConfig(_Table):
    """A named region of one camera that restricts some of its rules."""

    points: Polygon = Field(description="Polygon, `[x, y]` points in 0..1 (3 to 64 points).")
    rules: tuple[AlgorithmName, ...] = Field(
        default=(),
        description="The rules this zone restricts (e.g. `[\"fall\"]`): they count only people (or faces) "
        "inside it. Empty: every rule of the camera.",
    )


class CameraConfig(_Table):
    """One camera: where frames come from and what runs on them."""

    source: str = Field(min_length=1, description="Webcam index (`0`), RTSP/HTTP URL, video file, or `synthetic`.")
    fps: float | None = Field(default=None, gt=0, description="Frames per second sampled from the source "
                              "(default: the source's own rate).")
    loop: bool = Field(default=False, description="Replay a video file from its start when it ends.")
    algorithms: dict[AlgorithmName, Annotated[float, Field(gt=0)]] | None = Field(
        default=None,
        description="Frames per second per algorithm, e.g. `{ fall = 5, blink = 15 }`; only these run. "
        "Default: every algorithm of `[vigil] algorithms` at its measured default rate (docs/configuration.md).",
    )
    motion_gating: bool = Field(default=False, description="Skip detection on still frames (they are still "
                                "streamed to viewers).")
    motion_threshold: float = Field(default=DEFAULT_MOTION_THRESHOLD, gt=0, le=255, description="Mean absolute "
                                    "difference (0..255) between consecutive 64x36 gray frames that counts as motion.")
    motion_hold_s: float = Field(default=DEFAULT_MOTION_HOLD_S, ge=0, description="Seconds detection keeps running "
                                 "after the last motion (a person lying still after a fall stays observed).")
    masks: list[Polygon] = Field(default_factory=list, max_length=32, description="Polygons blanked before "
                                 "detection (a TV, a window); the live view still shows them.")
    zones: dict[str, ZoneConfig] = Field(default_factory=dict, description="Named zones: `[cameras.<name>.zones."
                                         "<zone>]` tables.")
    rules: dict[AlgorithmName, dict[str, Any]] = Field(
        default_factory=dict, description="Rule options per algorithm: `[cameras.<name>.rules.<algorithm>]` tables "
        "(the rule's own documented options).")
    notify: dict[str, Any] = Field(default_factory=dict, description="Which notifications this camera sends "
                                   "(`mqtt = true`, `webhooks = [\"carers\"]`; see the notifications docs).")

    @field_validator("zones")
    @classmethod
    def _zone_names(cls, zones: dict[str, ZoneConfig]) -> dict[str, ZoneConfig]:
        for name in zones:
            _camera_name(name)  # zone names appear in URLs and metrics, like camera names
        return zones

    def rates(self, default_algorithms: tuple[str, ...]) -> dict[str, float | None]:
        """Frames per second per algorithm this camera runs (``None``: every frame)."""
        if self.algorithms is not None:
            return dict(self.algorithms)
        return {name: DEFAULT_RATES.get(name) for name in default_algorithms}


class SiteConfig(_Table):
    """The whole site file. Build it with :func:`load_site_config`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    path: Path | None = Field(default=None, exclude=True)
    settings: Settings = Field(default_factory=Settings, exclude=True)
    vigil: dict[str, Any] = Field(default_factory=dict, description="Flat settings: see `vigil settings`.")
    cameras: dict[CameraName, CameraConfig] = Field(default_factory=dict, description="`[cameras.<name>]` tables.")
    mqtt: dict[str, Any] = Field(default_factory=dict, description="MQTT notifications (owner: notifications).")
    webhooks: list[dict[str, Any]] = Field(default_factory=list, description="Webhook targets (owner: notifications).")
    auth: dict[str, Any] = Field(default_factory=dict, description="Users and access (owner: login).")

    def camera(self, name: str) -> CameraConfig:
        """The camera named ``name``.

        Raises:
            ConfigError: no such camera in the file.
        """
        try:
            return self.cameras[name]
        except KeyError:
            raise ConfigError(f"{self.where}: no camera {name!r}; cameras: {', '.join(self.cameras) or 'none'}") \
                from None

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else "site config"

    def access(self) -> AuthConfig:
        """The ``[auth]`` table: who may log in, Host names, HTTPS (relative paths from the file's folder).

        Raises:
            ConfigError: a bad key or value, naming the file, the table and the key.
        """
        from vigil.stream.auth import AuthConfig

        return AuthConfig.from_mapping(self.auth, self.where)

    def notifications(self) -> NotifyConfig:
        """``[mqtt]``, ``[[webhooks]]`` and each camera's ``notify`` table, validated.

        Raises:
            ConfigError: a bad key or value, naming the file, the table and the key.
        """
        from vigil.notify.config import notify_config_from_site

        return notify_config_from_site(self, self.where)


def load_site_config(
    path: str | os.PathLike[str],
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> SiteConfig:
    """Read and validate the site file at ``path``.

    Args:
        path: the TOML file.
        overrides: settings from flags (``None`` values ignored), as :meth:`Settings.load`.
        environ: the environment (``os.environ`` by default); its ``VIGIL_CONFIG`` is replaced by ``path``.

    Raises:
        ConfigError: the file is missing, not TOML, or a key is unknown or has a bad value; the
            message names the file, the table and the key.
    """
    path = Path(path)
    where = str(path)
    data = read_toml(path)
    if data and not set(data) & set(SITE_TABLES) and not any(isinstance(v, dict) for v in data.values()):
        data = {"vigil": data}  # a flat settings file (no table), as VIGIL_CONFIG always accepted
    unknown = sorted(set(data) - set(SITE_TABLES))
    if unknown:
        raise ConfigError(f"{where}: unknown table [{unknown[0]}]; known: {', '.join(SITE_TABLES)}")
    environ = dict(os.environ if environ is None else environ)
    environ[CONFIG_ENV] = str(path)
    settings = Settings.load(overrides, environ=environ)
    try:
        site = SiteConfig.model_validate({**data, "path": path, "settings": settings})
    except ValidationError as exc:
        raise ConfigError(_explain(where, exc)) from None
    webhooks = {hook.get("name") for hook in site.webhooks}
    for name, camera in site.cameras.items():
        _check_camera(where, name, camera, settings)
        for hook in camera.notify.get("webhooks") or ():
            if isinstance(hook, str) and hook not in webhooks:
                raise ConfigError(f"{where}: [cameras.{name}.notify] webhooks: no [[webhooks]] named {hook!r}; "
                                  f"named: {', '.join(sorted(str(h) for h in webhooks if h)) or 'none'}")
    site.access()  # checked now, so `vigil config check` and every command refuse a bad table alike
    site.notifications()
    return site


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _check_camera(where: str, name: str, camera: CameraConfig, settings: Settings) -> None:
    table = f"[cameras.{name}]"
    for algorithm in camera.rates(settings.algorithms):
        if algorithm not in settings.algorithms:
            raise ConfigError(f"{where}: {table} algorithms.{algorithm}: not one of [vigil] algorithms "
                              f"({', '.join(settings.algorithms)}), so it has no queue; add it there")
    for algorithm, options in camera.rules.items():
        try:
            validate_rule_options(algorithm, options)
        except ConfigError as exc:
            raise ConfigError(f"{where}: [cameras.{name}.rules.{algorithm}] {exc}") from None


def _explain(where: str, exc: ValidationError) -> str:
    lines = [_explain_one(where, error) for error in exc.errors(include_url=False)]
    return "\n".join(lines)


def _explain_one(where: str, error: Any) -> str:
    loc = [str(part) for part in error["loc"] if part != "[key]"]
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = "required"
    table, key = _table_and_key(loc)
    return f"{where}: [{table}] {key}: {message}" if key else f"{where}: [{table}]: {message}"


def _table_and_key(loc: list[str]) -> tuple[str, str]:
    """Split an error location into the TOML table it is in and the key inside it."""
    if not loc:
        return "", ""
    if loc[0] == "cameras" and len(loc) >= 2:
        depth = 4 if len(loc) >= 4 and loc[2] in ("zones", "rules") else 2
        return ".".join(loc[:depth]), ".".join(loc[depth:])
    if loc[0] in SITE_TABLES:
        return loc[0], ".".join(loc[1:])
    return "top level", ".".join(loc)


def redact_url(url: str) -> str:
    """``rtsp://user:pw@host`` -> ``rtsp://user:***@host`` (any scheme)."""
    import re

    return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", url)


SECRET_KEYS = ("password", "secret", "token", "key", "hash", "credential")


def redacted(value: Any, key: str = "") -> Any:
    """``value`` with every secret-looking key's value replaced by ``***`` and URL passwords hidden."""
    if isinstance(value, Mapping):
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redacted(v, key) for v in value]
    if isinstance(value, str):
        if any(word in key.lower() for word in SECRET_KEYS) and value:
            return "***"
        return redact_url(value)
    return value


def describe_site(site: SiteConfig) -> dict[str, Any]:
    """The effective site configuration as plain data, secrets redacted (``vigil settings``)."""
    cameras = {}
    for name, camera in site.cameras.items():
        data = camera.model_dump(mode="json")
        data["algorithms"] = camera.rates(site.settings.algorithms)
        cameras[name] = data
    return redacted({"cameras": cameras, "mqtt": site.mqtt, "webhooks": site.webhooks, "auth": site.auth})


def schema_keys() -> list[str]:
    """Every key of the site file's schema, dotted (``cameras.<name>.fps``); docs/configuration.md lists them."""
    keys = [f"[{table}]" for table in SITE_TABLES]
    keys += [f"cameras.<name>.{field}" for field in CameraConfig.model_fields]
    keys += [f"cameras.<name>.zones.<zone>.{field}" for field in ZoneConfig.model_fields]
    return keys
