"""What to notify and where: the ``[mqtt]`` table, the ``[[webhooks]]`` list, ``[cameras.<name>.notify]``.

Pydantic models with ``extra="forbid"``, so a typo is an error that names the key. Passwords and
secrets are :class:`~pydantic.SecretStr`: their ``repr``/``str`` show ``**********``, and webhook URLs
(which may carry a token) are left out of the ``repr`` too; logs name a webhook by its ``name``.

:func:`notify_config_from_mapping` takes the parsed TOML of the whole site file;
:func:`notify_config_from_site` a loaded site file (``vigil.config.SiteConfig.notifications``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from vigil.errors import ConfigError

DEFAULT_MQTT_PORT = 1883
DEFAULT_PREFIX = "vigil"
DEFAULT_DISCOVERY_PREFIX = "homeassistant"
DEFAULT_KEEPALIVE = 30
DEFAULT_BACKLOG = 1000
DEFAULT_WEBHOOK_TIMEOUT = 5.0
DEFAULT_WEBHOOK_RETRIES = 3
MIN_SECRET_LENGTH = 16

Severity = Literal["info", "warning", "critical"]
EventType = Literal["new", "update", "end"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
EVENT_TYPES: tuple[EventType, ...] = ("new", "update", "end")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_TOPIC_WILDCARDS = ("+", "#")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_topic_prefix(value: str) -> str:
    if not value or value.startswith("/") or value.endswith("/") or any(c in value for c in _TOPIC_WILDCARDS):
        raise ValueError("must be a topic level like 'vigil' or 'site/vigil': no leading or trailing '/', no + or #")
    return value


class MqttConfig(_Model):
    """The ``[mqtt]`` table: the broker Vigil publishes events to."""

    enabled: bool = Field(default=True, description="false keeps the table but publishes nothing.")
    host: str = Field(default="127.0.0.1", min_length=1, description="Broker host name or address.")
    port: int = Field(default=DEFAULT_MQTT_PORT, ge=1, le=65535, description="Broker port (8883 is usual with TLS).")
    username: str | None = Field(default=None, description="User name, if the broker asks for one.")
    password: SecretStr | None = Field(default=None, description="Password (never logged or shown).")
    client_id: str | None = Field(default=None, description="MQTT client id; default: a random one per process.")
    tls: bool = Field(default=False, description="Connect with TLS (implied by ca, cert or key).")
    ca: Path | None = Field(default=None, description="CA certificate file (PEM); default: the system's CAs.")
    cert: Path | None = Field(default=None, description="Client certificate file (PEM), with key.")
    key: Path | None = Field(default=None, description="Client private key file (PEM), with cert.")
    prefix: str = Field(default=DEFAULT_PREFIX, description="Topic prefix: <prefix>/available, <prefix>/events, ...")
    qos: Literal[0, 1, 2] = Field(default=1, description="QoS of every message (1: at least once).")
    keepalive: int = Field(default=DEFAULT_KEEPALIVE, ge=5, le=3600, description="Seconds between keep-alive pings.")
    home_assistant: bool = Field(default=False, description="Publish Home Assistant MQTT discovery (binary sensors).")
    discovery_prefix: str = Field(default=DEFAULT_DISCOVERY_PREFIX, description="Home Assistant's discovery prefix.")
    backlog: int = Field(default=DEFAULT_BACKLOG, ge=1, le=1_000_000,
                         description="Events kept while the broker is down; past it the oldest are dropped.")

    _check_prefixes = field_validator("prefix", "discovery_prefix")(_check_topic_prefix)

    @model_validator(mode="after")
    def _cert_and_key(self) -> MqttConfig:
        if (self.cert is None) != (self.key is None):
            raise ValueError("cert and key go together: set both or neither")
        return self

    @property
    def use_tls(self) -> bool:
        return self.tls or self.ca is not None or self.cert is not None

    @property
    def target(self) -> str:
        """How metrics and logs name this broker (no credentials)."""
        return f"{self.host}:{self.port}"


class WebhookConfig(_Model):
    """One ``[[webhooks]]`` entry: a URL that receives every event passing its filters."""

    name: str = Field(description="Names this webhook in logs, metrics and [cameras.<name>.notify].")
    url: str = Field(repr=False, description="http(s) URL the event JSON is POSTed to.")
    secret: SecretStr = Field(description="Key of the HMAC-SHA256 signature (X-Vigil-Signature).")
    cameras: tuple[str, ...] = Field(default=(), description="Only these cameras (empty: all).")
    kinds: tuple[str, ...] = Field(default=(), description="Only these kinds (empty: all).")
    min_severity: Severity = Field(default="info", description="Only events at least this severe.")
    types: tuple[EventType, ...] = Field(default=EVENT_TYPES, min_length=1, description="Lifecycle types to send.")
    timeout: float = Field(default=DEFAULT_WEBHOOK_TIMEOUT, gt=0, le=120, description="Seconds per attempt.")
    retries: int = Field(default=DEFAULT_WEBHOOK_RETRIES, ge=0, le=20, description="Retries after a failed attempt.")
    backlog: int = Field(default=DEFAULT_BACKLOG, ge=1, le=1_000_000,
                         description="Events waiting for this URL; past it the oldest are dropped.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use 1-64 letters, digits, '-' or '_', starting with a letter or digit")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters (e.g. `openssl rand -hex 32`)")
        return value

    def accepts(self, event: Mapping[str, Any]) -> bool:
        """Whether ``event`` (an incident lifecycle dict) passes this webhook's filters."""
        return (
            (not self.cameras or event.get("camera") in self.cameras)
            and (not self.kinds or event.get("kind") in self.kinds)
            and event.get("type") in self.types
            and SEVERITY_RANK.get(str(event.get("severity")), -1) >= SEVERITY_RANK[self.min_severity]
        )


class CameraNotifyConfig(_Model):
    """``[cameras.<name>.notify]``: which notifications one camera sends."""

    mqtt: bool = Field(default=True, description="Publish this camera's events to MQTT.")
    webhooks: tuple[str, ...] | None = Field(
        default=None, description="Names of the webhooks this camera sends to (default: every webhook)."
    )


class NotifyConfig(_Model):
    """Every notification setting of a site."""

    mqtt: MqttConfig | None = None
    webhooks: tuple[WebhookConfig, ...] = ()
    cameras: dict[str, CameraNotifyConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> NotifyConfig:
        names = [hook.name for hook in self.webhooks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"webhook names must be unique; repeated: {', '.join(duplicates)}")
        for camera, notify in self.cameras.items():
            unknown = [name for name in notify.webhooks or () if name not in names]
            if unknown:
                raise ValueError(f"cameras.{camera}.notify.webhooks names unknown webhooks {unknown}; "
                                 f"known: {names}")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.webhooks) or (self.mqtt is not None and self.mqtt.enabled)

    def camera(self, name: str) -> CameraNotifyConfig:
        return self.cameras.get(name) or _DEFAULT_CAMERA

    def webhooks_for(self, event: Mapping[str, Any]) -> list[WebhookConfig]:
        """The webhooks ``event`` goes to: its camera's list, then each webhook's own filters."""
        allowed = self.camera(str(event.get("camera"))).webhooks
        return [hook for hook in self.webhooks
                if (allowed is None or hook.name in allowed) and hook.accepts(event)]


_DEFAULT_CAMERA = CameraNotifyConfig()


def notify_config_from_mapping(data: Mapping[str, Any], where: str = "config") -> NotifyConfig:
    """The notification settings in a parsed site file (its ``mqtt``, ``webhooks`` and ``cameras`` tables).

    Args:
        data: the whole parsed TOML document.
        where: how errors name the source (a file name).

    Raises:
        ConfigError: naming the file, the table and the key.
    """
    cameras = data.get("cameras") or {}
    if not isinstance(cameras, Mapping):
        raise ConfigError(f"{where}: [cameras] must be a table")
    raw = {
        "mqtt": data.get("mqtt"),
        "webhooks": data.get("webhooks") or (),
        "cameras": {name: table["notify"] for name, table in cameras.items()
                    if isinstance(table, Mapping) and "notify" in table},
    }
    try:
        return NotifyConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_describe(exc, data)}") from None


def notify_config_from_site(site: Any, where: str = "config") -> NotifyConfig:
    """The same from a loaded site file object (``vigil.config.SiteConfig``: ``.mqtt`` a table,
    ``.webhooks`` a list, ``.cameras`` name -> camera with a ``.notify`` table). An empty ``mqtt``
    table counts as absent (the loader's default), so write ``enabled = true`` for an ``[mqtt]`` of
    defaults only.

    Raises:
        ConfigError: naming the file, the table and the key.
    """
    cameras = {name: {"notify": dict(getattr(camera, "notify", None) or {})}
               for name, camera in (getattr(site, "cameras", None) or {}).items()}
    data = {"mqtt": dict(site.mqtt) if getattr(site, "mqtt", None) else None,
            "webhooks": [dict(hook) for hook in getattr(site, "webhooks", None) or ()], "cameras": cameras}
    return notify_config_from_mapping(data, where)


def _describe(exc: ValidationError, data: Mapping[str, Any]) -> str:
    messages = []
    for error in exc.errors():
        loc = list(error["loc"])
        if loc[:1] == ["webhooks"] and len(loc) > 1 and isinstance(loc[1], int):
            hooks = data.get("webhooks") or []
            name = hooks[loc[1]].get("name") if loc[1] < len(hooks) and isinstance(hooks[loc[1]], dict) else None
            loc[:2] = [f"webhooks[{loc[1]}]" + (f" ({name})" if name else "")]
        elif loc[:1] == ["cameras"] and len(loc) > 1:
            loc[:2] = [f"cameras.{loc[1]}.notify"]
        key = ".".join(str(part) for part in loc) or "(top level)"
        # never echo the rejected value: it may be a password
        messages.append(f"{key}: {error['msg']}")
    return "; ".join(messages)
