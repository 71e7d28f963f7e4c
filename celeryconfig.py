"""Your Celery settings for Vigil's workers: override Celery's defaults here.

Vigil's own Celery configuration lives in the package (``vigil/celery_config.py``) and
is derived from Vigil's settings (``vigil settings``). ``celery -A vigil`` works
without this file. When a module named ``celeryconfig`` is importable (``celery``
puts the directory it starts in on the import path), its lowercase settings are
applied on top, by Celery's own names:
https://docs.celeryq.dev/en/stable/userguide/configuration.html

Not overridable, because Vigil depends on them: the serializers and accepted content
(msgpack and JSON only: no payload may execute code when decoded), the queues and
routes (from ``VIGIL_ALGORITHMS`` and the queue settings), ``task_create_missing_queues``,
and the broker and backend URLs (``VIGIL_BROKER_URL``, ``VIGIL_RESULT_BACKEND``).
An unknown name is refused, so a typo cannot go unnoticed.

Copy this file next to where you start your workers and uncomment what you need, e.g.:
"""

# Restart a worker process after this many tasks (bounds slow memory growth in long runs).
# worker_max_tasks_per_child = 100_000

# Stop a task that runs longer than this many seconds (a detector stuck on a frame).
# task_time_limit = 10

# Broker connection heartbeat, in seconds.
# broker_heartbeat = 30
