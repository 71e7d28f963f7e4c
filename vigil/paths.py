"""Checking, before any work starts, that the files and folders a command will write can be written.

A read-only folder, a missing directory or a path that is a directory would otherwise
surface as a traceback, sometimes only at the end of a long run (``vigil run --report``).
"""

from __future__ import annotations

import os
from pathlib import Path

from vigil.errors import ConfigError


def check_writable(path: Path | str, what: str) -> Path:
    """Return ``path`` if a file can be created or appended there.

    Args:
        path: the file.
        what: the flag or setting that named it, for the message (e.g. ``"--report"``).

    Raises:
        ConfigError: naming the path, ``what``, and the reason.
    """
    path = Path(path)
    problem = _problem(path)
    if problem:
        raise ConfigError(f"{what} {str(path)!r}: {problem}")
    return path


def check_writable_dir(path: Path | str, what: str) -> Path:
    """Create the folder ``path`` if needed and return it once a file can be written in it.

    Raises:
        ConfigError: naming the folder, ``what``, and the reason.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {str(path)!r}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".vigil-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{what} {str(path)!r}: cannot be written ({exc.strerror or exc})") from None
    return path


def _problem(path: Path) -> str:
    if path.is_dir():
        return "is a directory, not a file"
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {str(folder)!r} does not exist"
    # Trying is the only honest check: permissions, read-only mounts and root all differ.
    existed = path.exists()
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        return f"cannot be written ({exc.strerror or exc})"
    if not existed:
        path.unlink(missing_ok=True)
    return ""
