"""Adding logins and API tokens to the site file without disturbing the rest of it.

A new ``[auth.users.NAME]`` or ``[auth.tokens.NAME]`` table is appended at the end of the
file: comments, order and formatting of everything else stay as the user wrote them. The
result is parsed and validated before it replaces the file (atomically, keeping its mode; a
new file is readable by its owner only), so a failed edit leaves the file as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from vigil.errors import ConfigError
from vigil.stream.auth import NAME_PATTERN, AuthConfig

NEW_FILE = """\
# Vigil site file: settings in [vigil], cameras, logins ([auth]). See the README.
[vigil]
"""


def add_user(path: Path, name: str, password_hash: str) -> None:
    """Append ``[auth.users.NAME] password_hash = ...`` to the site file at ``path`` (created if missing).

    Raises:
        ConfigError: a bad name, a user of that name exists, or the file cannot be read or written.
    """
    _append(path, "users", name, f"password_hash = '{password_hash}'")


def add_token(path: Path, name: str, digest: str) -> None:
    """Append ``[auth.tokens.NAME] sha256 = ...`` (the token's digest, never the token).

    Raises:
        ConfigError: a bad name, a token of that name exists, or the file cannot be read or written.
    """
    _append(path, "tokens", name, f"sha256 = '{digest}'")


def _append(path: Path, kind: str, name: str, line: str) -> None:
    if not NAME_PATTERN.match(name):
        raise ConfigError(f"bad name {name!r}: use 1-64 letters, digits, '-' or '_'")
    try:
        text = path.read_text(encoding="utf-8")
        mode: int | None = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        text, mode = NEW_FILE, None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    auth = _auth_table(_parse(text, path), path)
    if name in auth.get(kind, {}):
        what = "user" if kind == "users" else "token"
        raise ConfigError(f"{path}: a {what} named {name!r} exists already ([auth.{kind}.{name}]): "
                          "choose another name, or delete that table first")
    updated = text + ("" if text.endswith("\n") or not text else "\n") + f"\n[auth.{kind}.{name}]\n{line}\n"
    try:
        data = tomllib.loads(updated)
    except tomllib.TOMLDecodeError as exc:  # e.g. `users = { ... }` written inline: not extendable by a table
        raise ConfigError(f"{path}: cannot add [auth.{kind}.{name}] to this file ({exc}); "
                          f"add it by hand:\n[auth.{kind}.{name}]\n{line}") from None
    AuthConfig.from_mapping(_auth_table(data, path), str(path))
    _replace(path, updated, mode)


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _auth_table(data: dict[str, Any], path: Path) -> dict[str, Any]:
    auth = data.get("auth", {})
    if not isinstance(auth, dict):
        raise ConfigError(f"{path}: [auth] must be a table")
    return auth


def _replace(path: Path, text: str, mode: int | None) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    try:
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o600 if mode is None else mode)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
