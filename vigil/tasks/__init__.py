"""Celery tasks: one thin task per algorithm, named ``vigil.detect.<algorithm>``."""

from __future__ import annotations

from typing import Any

from celery import Celery

from vigil.queues import task_name
from vigil.settings import Settings
from vigil.tasks.detect import detect_frame


def register_detection_tasks(app: Celery, settings: Settings) -> None:
    """Register ``vigil.detect.<algorithm>`` for every configured algorithm."""
    for algorithm in settings.algorithms:
        _register(app, algorithm, settings)


def _register(app: Celery, algorithm: str, settings: Settings) -> None:
    def detect(payload: dict[str, Any]) -> dict[str, Any]:
        result = detect_frame(
            payload, algorithm, max_bytes=settings.max_payload_bytes, override=settings.detector_override
        )
        return result.to_dict()

    detect.__doc__ = f"Run the {algorithm!r} detector on one frame."
    # shared=False: each app (worker, embedded run, tests) keeps its own settings.
    app.task(name=task_name(algorithm), acks_late=True, ignore_result=False, shared=False,
             # A path, as Celery's own default is given: a function here would bind as a method.
             Strategy="vigil.tasks.validation:validating_strategy")(detect)
