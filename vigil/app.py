"""The Celery app: what ``celery -A vigil worker -Q fall,emotion,pose,blink`` finds.

``create_app`` builds an app from a :class:`~vigil.settings.Settings` (Celery settings
from :mod:`vigil.celery_config`, then the user's ``celeryconfig`` overrides); the
module-level ``app`` uses the settings from the environment (``VIGIL_*``), for
workers and Flower. Worker signals here make a worker explain itself: a typo in
``-Q`` names the valid queues, a queue declared with other arguments names the fix,
and a line says when the worker is ready and what it consumes.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from celery import Celery, signals

from vigil.celery_config import build, user_overrides
from vigil.detectors.registry import get_spec, unknown_algorithm_message
from vigil.errors import QueueMismatchError
from vigil.logs import configure_logging
from vigil.queues import declare_queues
from vigil.settings import Settings
from vigil.tasks import register_detection_tasks

log = logging.getLogger(__name__)

EX_CONFIG = 78  # sysexits.h: configuration error


def create_app(settings: Settings | None = None, *, main: str = "vigil") -> Celery:
    """A Celery app configured from ``settings`` with every detection task registered.

    Raises:
        UnknownDetectorError: a configured algorithm is not registered.
        ConfigError: the user's ``celeryconfig`` is broken or overrides what it must not.
    """
    settings = settings or Settings.load()
    for algorithm in settings.algorithms:
        get_spec(algorithm)
    app = Celery(main, set_as_current=False)
    app.conf.update(build(settings))
    app.conf.update(user_overrides())
    app.vigil_settings = settings  # type: ignore[attr-defined]
    register_detection_tasks(app, settings)
    return app


@signals.setup_logging.connect
def _use_vigil_logging(loglevel: Any = None, **_: Any) -> None:
    # Connecting this signal stops Celery from installing its own handlers.
    configure_logging(loglevel or "INFO")


@signals.celeryd_init.connect
def _check_queue_names(sender: Any = None, instance: Any = None, options: Any = None, **_: Any) -> None:
    """A typo in ``-Q`` names Vigil's queues (Celery would suggest creating missing queues)."""
    worker_app: Any = getattr(instance, "app", None)
    if getattr(worker_app, "vigil_settings", None) is None:
        return
    known = tuple(worker_app.amqp.queues)
    asked = options.get("queues") if options else None
    names = asked.split(",") if isinstance(asked, str) else list(asked or ())
    for name in (n.strip() for n in names):
        if name and name not in known:
            log.error("cannot start the worker: %s Run e.g. `celery -A vigil worker -Q %s`.",
                      unknown_algorithm_message(name, known).replace("algorithm", "queue"), ",".join(known))
            sys.stderr.flush()
            raise SystemExit(EX_CONFIG)


@signals.worker_ready.connect
def _say_ready(sender: Any = None, **_: Any) -> None:
    worker_app: Any = getattr(sender, "app", None)
    if getattr(worker_app, "vigil_settings", None) is None:
        return
    queues = ", ".join(sorted(worker_app.amqp.queues.consume_from))
    # Celery's own "ready." shows only with -l INFO, and it redirects stdout into its log;
    # this line is for the person who just typed the command, whatever the log level.
    print(f"vigil: worker {getattr(sender, 'hostname', '?')} ready: consuming {queues} "
          f"from {worker_app.connection_for_read().as_uri()}", file=sys.__stderr__, flush=True)


@signals.worker_init.connect
def _check_queues(sender: Any = None, **_: Any) -> None:
    """Declare our queues before consuming, so a 406 becomes advice, not a traceback."""
    worker_app: Any = getattr(sender, "app", None)
    settings = getattr(worker_app, "vigil_settings", None)
    if settings is None or not worker_app.conf.broker_url.startswith(("amqp", "pyamqp")):
        return
    try:
        with worker_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=3)
            declare_queues(connection, worker_app.amqp.queues.consume_from.values(), settings)
    except QueueMismatchError as exc:
        log.error("cannot start the worker: %s", exc)
        sys.stderr.flush()
        raise SystemExit(EX_CONFIG) from None


_default_app: Celery | None = None


def __getattr__(name: str) -> Any:
    # The default app is built on first use, so importing this module never reads
    # the environment by surprise.
    global _default_app
    if name == "app":
        if _default_app is None:
            _default_app = create_app()
        return _default_app
    raise AttributeError(f"module 'vigil.app' has no attribute {name!r}")
