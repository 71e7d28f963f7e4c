"""The ``[auth]`` table of the site file: who may use the streamer's HTTP, and over what.

```toml
[auth]
public_paths = ["/healthz", "/metrics"]   # served without a login ("/static/" ends in / : a prefix)
allowed_hosts = ["vigil.example.org"]     # Host names besides localhost, IP addresses and the bind address
session_lifetime_s = 43200                # a login lasts 12 hours
tls_cert = "/etc/vigil/cert.pem"          # HTTPS when both are set
tls_key = "/etc/vigil/key.pem"
[auth.users.alice]                        # `vigil user add alice`
password_hash = "$argon2id$..."
[auth.tokens.backup-script]               # `vigil user token backup-script`
sha256 = "9f86d081..."
```

With no user and no token the streamer has no login, and refuses to serve on anything but
loopback (:func:`check_exposure`) unless told ``--insecure``.

The site file's loader (:func:`vigil.config.load_site_config`) validates the table;
``SiteConfig.access()`` builds this model from it.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vigil.errors import ConfigError
from vigil.stream.credentials import token_digest, verify_password

DEFAULT_PUBLIC_PATHS = ("/healthz", "/metrics")
DEFAULT_SESSION_LIFETIME_S = 12 * 3600.0
DEFAULT_LOGIN_ATTEMPTS = 5
DEFAULT_LOGIN_WINDOW_S = 60.0
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # a bare TOML key: no quoting, no dots
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserConfig(_Strict):
    """One login: ``[auth.users.NAME]``."""

    password_hash: str = Field(description="argon2 hash of the password (`vigil user add` writes it).")

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, value: str) -> str:
        if not value.startswith("$argon2"):
            raise ValueError("must be an argon2 hash ($argon2id$...): create it with `vigil user add NAME`")
        return value


class TokenConfig(_Strict):
    """One API token for scripts: ``[auth.tokens.NAME]``; only its hash is stored."""

    sha256: str = Field(description="hex SHA-256 of the token (`vigil user token NAME` prints the token once).")

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError("must be 64 lowercase hex digits: create it with `vigil user token NAME`")
        return value


class AuthConfig(_Strict):
    """Login, Host allow-list and HTTPS of the streamer (the ``[auth]`` table)."""

    users: dict[str, UserConfig] = Field(default_factory=dict, description="Logins, by name.")
    tokens: dict[str, TokenConfig] = Field(default_factory=dict, description="Bearer API tokens, by name.")
    public_paths: tuple[str, ...] = Field(
        default=DEFAULT_PUBLIC_PATHS, description="Paths served without a login; one ending in '/' is a prefix.")
    allowed_hosts: tuple[str, ...] = Field(
        default=(), description="Host names the streamer answers to besides localhost, IP addresses and the bind "
        "address; '.example.org' allows its subdomains, '*' any (not advised: DNS rebinding).")
    session_lifetime_s: float = Field(default=DEFAULT_SESSION_LIFETIME_S, gt=0, description="Seconds a login lasts.")
    login_attempts: int = Field(
        default=DEFAULT_LOGIN_ATTEMPTS, ge=1, description="Failed logins a client may make per `login_window_s`.")
    login_window_s: float = Field(default=DEFAULT_LOGIN_WINDOW_S, gt=0, description="The window of `login_attempts`.")
    tls_cert: Path | None = Field(default=None, description="PEM certificate (chain) for HTTPS.")
    tls_key: Path | None = Field(default=None, description="PEM private key of `tls_cert`.")

    @field_validator("users", "tokens")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not NAME_PATTERN.match(name):
                raise ValueError(f"bad name {name!r}: use 1-64 letters, digits, '-' or '_'")
        return value

    @field_validator("public_paths")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"{path!r} must start with '/'")
            if path == "/" or path.startswith(("/login", "/logout")):
                raise ValueError(f"{path!r} cannot be public: it would open the whole site or the login")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> AuthConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both for HTTPS, or neither")
        return self

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str) -> AuthConfig:
        """Validate an ``[auth]`` table; relative ``tls_*`` paths are taken from the folder of ``where``.

        Raises:
            ConfigError: naming ``where`` (the file), the table and the key.
        """
        try:
            config = cls.model_validate(dict(data))
        except ValidationError as exc:
            problems = "; ".join(
                f"[auth] {'.'.join(str(part) for part in error['loc']) or '(table)'}: {error['msg']}"
                for error in exc.errors()
            )
            raise ConfigError(f"{where}: {problems}") from None
        base = Path(where).parent
        return config.model_copy(update={
            name: base / path for name in ("tls_cert", "tls_key")
            if (path := getattr(config, name)) is not None and not path.is_absolute()
        })

    @property
    def enabled(self) -> bool:
        """A login is required (there is at least one user or token)."""
        return bool(self.users or self.tokens)

    @property
    def https(self) -> bool:
        return self.tls_cert is not None

    def is_public(self, path: str) -> bool:
        return any(path == public or (public.endswith("/") and path.startswith(public))
                   for public in self.public_paths)

    def check_password(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s; as slow for an unknown user as for a known one."""
        entry = self.users.get(user)
        return verify_password(entry.password_hash if entry else None, password) and entry is not None

    def token_name(self, token: str) -> str | None:
        """The name of the API token ``token``, or None; compares with every stored hash in constant time."""
        digest = token_digest(token)
        found = None
        for name, entry in self.tokens.items():
            if hmac.compare_digest(digest, entry.sha256):
                found = name
        return found


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` serves this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def check_exposure(host: str, auth: AuthConfig, insecure: bool, command: str) -> None:
    """Refuse to serve beyond loopback with no login, unless the user said ``--insecure``.

    Raises:
        ConfigError: ``host`` is not loopback, there is no user or token, and not ``insecure``.
    """
    if auth.enabled or insecure or is_loopback(host):
        return
    raise ConfigError(
        f"{command}: refusing to serve on {host} without a login: anyone who reaches it could watch the "
        "cameras. Add a user (`vigil user add NAME --config FILE`) or an API token (`vigil user token NAME`) "
        "to the site file named by --config or VIGIL_CONFIG, serve on 127.0.0.1, or pass --insecure."
    )
