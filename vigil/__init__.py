"""Vigil: real-time detection on live video (fall, emotion, head pose, blink) with Celery.

``celery -A vigil ...`` finds the Celery app through the lazy ``celery`` attribute, so
that ``import vigil`` stays cheap for everything else.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "celery":
        from vigil.app import app

        return app
    raise AttributeError(f"module 'vigil' has no attribute {name!r}")
