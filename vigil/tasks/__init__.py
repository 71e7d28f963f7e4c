"""Celery tasks: one thin task per algorithm, named ``vigil.detect.<algorithm>``."""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery

from vigil.queues import task_name
from vigil.settings import Settings
from vigil.tasks.detect import detect_frame
from vigil.tasks.face_share import FaceShare, redis_client_of


def register_detection_tasks(app: Celery, settings: Settings) -> None:
    """Register ``vigil.detect.<algorithm>`` for every configured algorithm."""
    shared_faces = _FaceShareOf(app) if settings.share_faces else None
    for algorithm in settings.algorithms:
        _register(app, algorithm, settings, shared_faces)


class _FaceShareOf:
    """The app's :class:`FaceShare`, made on first use: in a worker process, after the fork."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.share: FaceShare | None = None
        self._lock = threading.Lock()

    def get(self) -> FaceShare:
        with self._lock:
            if self.share is None:
                self.share = FaceShare(redis_client_of(self.app.backend))
            return self.share


def _register(app: Celery, algorithm: str, settings: Settings, shared_faces: _FaceShareOf | None) -> None:
    def detect(payload: dict[str, Any]) -> dict[str, Any]:
        result = detect_frame(
            payload, algorithm, max_bytes=settings.max_payload_bytes, override=settings.detector_override,
            faces=shared_faces.get() if shared_faces else None,
        )
        return result.to_dict()

    detect.__doc__ = f"Run the {algorithm!r} detector on one frame."
    # shared=False: each app (worker, embedded run, tests) keeps its own settings.
    app.task(name=task_name(algorithm), acks_late=True, ignore_result=False, shared=False,
             # A path, as Celery's own default is given: a function here would bind as a method.
             Strategy="vigil.tasks.validation:validating_strategy")(detect)
