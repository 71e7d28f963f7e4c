"""Reading ``labels.json``: which clips and stills it names, and the labels each scorer uses.

The format is documented in ``docs/labels.md``. Every scorer takes only the keys it knows
(``falls``, ``blinks``, ``yaw_extremes``, an expression name...) and ignores the rest, so a
folder may carry labels that no scorer reads yet without breaking the evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vigil.errors import ConfigError

LABELS_FILE = "labels.json"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
STILL_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
NEGATIVE_FOLDER = "negative/"

Labels = dict[str, dict[str, Any]]


def load_labels(data_dir: Path) -> Labels:
    """The ``clips`` mapping of ``data_dir/labels.json`` (clip path relative to ``data_dir`` -> labels).

    Raises:
        ConfigError: there is no ``labels.json`` in ``data_dir``, or it is not JSON with a
            ``clips`` object of objects.
    """
    path = data_dir / LABELS_FILE
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no {LABELS_FILE} in {data_dir}: --data takes a folder laid out as docs/labels.md "
                          "describes") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    clips = document.get("clips") if isinstance(document, dict) else None
    if not isinstance(clips, dict) or not all(isinstance(v, dict) for v in clips.values()):
        raise ConfigError(f'{path}: expected {{"clips": {{"name": {{labels}}, ...}}}} (docs/labels.md)')
    return clips


def videos(clips: Labels) -> list[str]:
    """The clips that are videos, in labels.json order."""
    return [name for name in clips if name.lower().endswith(VIDEO_SUFFIXES)]


def stills(clips: Labels) -> list[str]:
    """The entries that are single images, in labels.json order."""
    return [name for name in clips if name.lower().endswith(STILL_SUFFIXES)]


def unscored(clips: Labels) -> list[str]:
    """The entries that are neither a video nor a still by their suffix: no scorer reads them."""
    return [name for name in clips if not name.lower().endswith(VIDEO_SUFFIXES + STILL_SUFFIXES)]


def ranges(labels: dict[str, Any], key: str) -> list[tuple[int, int]]:
    """Inclusive frame ranges under ``key`` (none when the key is absent)."""
    return [(int(first), int(last)) for first, last in labels.get(key, [])]


def in_ranges(seq: int, spans: list[tuple[int, int]]) -> bool:
    """Whether frame ``seq`` lies in any of the inclusive ``spans``."""
    return any(first <= seq <= last for first, last in spans)
