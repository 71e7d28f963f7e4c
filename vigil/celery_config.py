"""Celery's configuration, by Celery's own setting names, derived from Vigil's Settings.

``vigil.app`` calls :func:`build`, then applies the user's overrides from a
``celeryconfig`` module, if one is importable (:func:`user_overrides`: the
``celeryconfig.py`` at the repository root documents how). The reasons behind the
choices:

- msgpack carries the JPEG as binary (JSON would base64 it: +34 % bytes, ~1 ms);
  msgpack and JSON are the only formats accepted: no payload can execute code when decoded.
- Each algorithm queue is bounded with drop-head and a TTL (``vigil/queues.py``). Only
  *ready* messages count toward ``x-max-length``, so a worker must not hoard frames:
  prefetch one per process and acknowledge after the task (``task_acks_late``).
- Frames are transient (``delivery_mode`` 1): a stale frame is worth nothing after a
  broker restart, and persisting 70 KB frames would cost disk I/O on every message.
- ``task_create_missing_queues = False``: a typo in ``-Q`` fails loudly.
- A Redis result is stored in one round trip (``vigil.result_backend``), not Celery's two.
- ``result_expires`` is short so Redis memory stays bounded (~400 bytes a result).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from types import ModuleType
from typing import Any

from celery.app.defaults import SETTING_KEYS
from celery.utils.imports import cwd_in_path

from vigil.errors import ConfigError
from vigil.queues import algorithm_queues, task_routes
from vigil.result_backend import backend_url
from vigil.settings import Settings
from vigil.tls import broker_ssl, celery_redis_ssl

USER_MODULE = "celeryconfig"
# Overriding these would let a message execute code when decoded, or break what Vigil
# relies on (routing, bounded queues): refused with an explanation.
PROTECTED = {
    "task_serializer": "tasks carry binary JPEGs as msgpack",
    "result_serializer": "the streamer reads results as JSON",
    "accept_content": "only msgpack and JSON are accepted: no payload may execute code when decoded",
    "result_accept_content": "only msgpack and JSON are accepted: no payload may execute code when decoded",
    "task_queues": "queues come from VIGIL_ALGORITHMS and the queue settings",
    "task_routes": "each algorithm is routed to its own queue",
    "task_create_missing_queues": "a typo in -Q must fail loudly",
    "worker_consumer": "Vigil's consumer refuses malformed task messages instead of exiting and batches task events",
    "broker_url": "set VIGIL_BROKER_URL (or --broker-url)",
    "result_backend": "set VIGIL_RESULT_BACKEND (or --result-backend)",
    "broker_use_ssl": "set VIGIL_TLS_CA_FILE, VIGIL_TLS_CERT_FILE and VIGIL_TLS_KEY_FILE",
    "redis_backend_use_ssl": "set VIGIL_TLS_CA_FILE, VIGIL_TLS_CERT_FILE and VIGIL_TLS_KEY_FILE",
}


def build(settings: Settings) -> dict[str, Any]:
    """Celery settings for ``settings``."""
    queues = algorithm_queues(settings)
    in_memory = settings.broker_url.startswith("memory://")
    tls: dict[str, Any] = {}
    if (broker_tls := broker_ssl(settings)) is not None:
        tls["broker_use_ssl"] = broker_tls
    if (redis_tls := celery_redis_ssl(settings)) is not None:
        tls["redis_backend_use_ssl"] = redis_tls
    return {
        **tls,
        "broker_url": settings.broker_url,
        # Redis: Celery's backend with one round trip a result instead of two (vigil/result_backend.py).
        "result_backend": backend_url(settings.result_backend),
        "task_serializer": "msgpack",
        "result_serializer": "json",
        "accept_content": ["msgpack", "json"],
        "result_accept_content": ["json", "msgpack"],
        "event_serializer": "json",
        "task_queues": queues,
        "task_default_queue": queues[0].name,
        "task_default_exchange": queues[0].exchange.name,
        "task_default_exchange_type": "direct",
        "task_default_routing_key": queues[0].routing_key,
        "task_routes": task_routes(settings),
        "task_create_missing_queues": False,
        "task_default_delivery_mode": "transient",
        "task_acks_late": True,
        "task_reject_on_worker_lost": False,
        "worker_prefetch_multiplier": 1,
        "worker_consumer": "vigil.tasks.consumer:WorkerConsumer",
        "task_ignore_result": False,
        "task_store_errors_even_if_ignored": True,
        "result_expires": settings.result_expires,
        "result_extended": False,
        "worker_send_task_events": settings.task_events,
        "task_send_sent_event": False,
        "worker_hijack_root_logger": False,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 2.0,
        "broker_heartbeat": 30,
        "redis_socket_connect_timeout": 2.0,
        "redis_socket_timeout": 5.0,
        "redis_retry_on_timeout": True,
        "result_backend_transport_options": {"retry_policy": {"timeout": 5.0}},
        "worker_enable_remote_control": not in_memory,
        # kombu's in-memory transport polls; its default 1 s interval caps it at ~4 tasks/s.
        "broker_transport_options": {"polling_interval": 0.002} if in_memory else {},
        "timezone": "UTC",
        "enable_utc": True,
    }


def user_overrides(module_name: str = USER_MODULE) -> dict[str, Any]:
    """Celery settings from the user's ``celeryconfig`` module, if one is importable.

    Its lowercase, non-private attributes that are plain values are Celery settings
    (functions, classes and modules in it are ignored). As with Celery's own
    ``celeryconfig``, the working directory is searched first, so a ``celeryconfig.py``
    where the worker starts applies.

    Raises:
        ConfigError: the module fails to import, names an unknown Celery setting, or
            overrides one Vigil depends on (see ``PROTECTED``).
    """
    module = _import_user_module(module_name)
    if module is None:
        return {}
    origin = getattr(module, "__file__", module_name)
    overrides = {}
    for name, value in vars(module).items():
        if name.startswith("_") or not name.islower() or _is_code(value):
            continue
        if name in PROTECTED:
            raise ConfigError(f"{origin}: {name} cannot be overridden: {PROTECTED[name]}")
        if name not in SETTING_KEYS:
            raise ConfigError(
                f"{origin}: {name!r} is not a Celery setting "
                "(see https://docs.celeryq.dev/en/stable/userguide/configuration.html)"
            )
        overrides[name] = value
    return overrides


def _import_user_module(module_name: str) -> ModuleType | None:
    # As Celery's own loader reads its config module: the working directory first.
    with cwd_in_path():
        spec = importlib.util.find_spec(module_name)
        if spec is None:
            return None
        try:
            return importlib.import_module(module_name)
        except Exception as exc:  # the user's file: any error in it is a configuration error
            raise ConfigError(f"cannot import {spec.origin or module_name}: {exc}") from exc


def _is_code(value: Any) -> bool:
    return inspect.ismodule(value) or inspect.isclass(value) or callable(value)
