"""Vigil: real-time detection on live video (fall, emotion, head pose, blink) with Celery.

``celery -A vigil ...`` finds the Celery app through the lazy ``celery`` attribute, so
that ``import vigil`` stays cheap for everything else.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "celery":
        import sys

        from vigil.errors import ConfigError

        try:
            from vigil.app import app
        except ConfigError as exc:
            # `celery -A vigil ...` would bury this under its own traceback.
            print(f"vigil: error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(78) from None
        return app
    raise AttributeError(f"module 'vigil' has no attribute {name!r}")
