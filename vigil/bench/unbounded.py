"""The overload baseline: the same detection task on an unbounded queue, naively configured.

No ``x-max-length``, no TTL, no ``expires``, prefetch 4 and early acknowledgement: what
a Celery set-up looks like before anyone thinks about live video. Run a worker with::

    celery -A vigil.bench.unbounded worker -Q vigil-bench-unbounded -P threads -c 1
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from vigil.settings import Settings
from vigil.tasks.detect import detect_frame

UNBOUNDED_QUEUE = "vigil-bench-unbounded"
TASK_NAME = "vigil.bench.unbounded.detect"

settings = Settings.load()
app = Celery("vigil-bench-unbounded", broker=settings.broker_url, backend=settings.result_backend,
             set_as_current=False)
app.conf.update(
    task_serializer="msgpack",
    result_serializer="json",
    accept_content=["msgpack", "json"],
    task_queues=[Queue(UNBOUNDED_QUEUE)],
    task_default_queue=UNBOUNDED_QUEUE,
    worker_prefetch_multiplier=4,
    task_acks_late=False,
    result_expires=60,
    worker_hijack_root_logger=False,
)


@app.task(name=TASK_NAME, shared=False)
def detect(payload: dict[str, Any]) -> dict[str, Any]:
    result = detect_frame(payload, "fall", max_bytes=settings.max_payload_bytes, override=settings.detector_override)
    return result.to_dict()
