"""Refusing a task message whose shape is wrong, before Celery unpacks it.

Celery's worker unpacks a protocol-2 body as ``args, kwargs, embed``; a body of another
shape (a map, a list of two, a number) raised in the consumer, which Celery treats as
unrecoverable: the worker exited, the message went back to the queue and took down the
next worker too. Anyone who can publish to the broker could stop all detection.

:func:`validating_strategy` (our tasks' ``Strategy``) checks the shape before Celery's
own strategy touches the message, and raises Celery's ``InvalidTaskError``, which the
consumer answers by logging the message and rejecting it without requeue; the worker
keeps consuming. Vigil only ever sends protocol-2 messages, so nothing else is accepted.

Before any strategy runs, Celery's consumer looks the ``task`` header up in its table of
strategies; a header that is a list or a map (unhashable) raised ``TypeError`` there and the
worker exited ("Unrecoverable error"), found by the fuzzer (tests/faults).
:class:`ValidatingConsumer` (the ``worker_consumer`` setting) answers such a name as an
unknown task: logged, rejected, the worker keeps consuming.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from celery.exceptions import InvalidTaskError
from celery.worker.consumer import Consumer
from celery.worker.strategy import default as default_strategy


def task_message_problem(headers: Any, payload: Any) -> str | None:
    """What is wrong with a task message's headers and decoded body, or None if nothing."""
    if not isinstance(headers, Mapping):
        return f"headers must be a map, got {type(headers).__name__}"
    for field in ("id", "task"):
        if not isinstance(headers.get(field), str):
            return f"header {field!r} must be a string, got {type(headers.get(field)).__name__}"
    if not isinstance(payload, (list, tuple)) or len(payload) != 3:
        kind = f"a {type(payload).__name__}" + (f" of {len(payload)}" if isinstance(payload, (list, tuple)) else "")
        return f"the body must be [args, kwargs, embed], got {kind}"
    args, kwargs, embed = payload
    if not isinstance(args, (list, tuple)):
        return f"args must be a list, got {type(args).__name__}"
    if not isinstance(kwargs, Mapping) or not all(isinstance(key, str) for key in kwargs):
        return "kwargs must be a map with string keys"
    if embed is not None and not isinstance(embed, Mapping):
        return f"embed must be a map, got {type(embed).__name__}"
    if len(args) != 1 or kwargs:
        # Vigil's tasks take one frame payload. Wrong arguments would raise TypeError inside
        # Celery's tracer, and each such failure kept ~100 KB in the pool process (the fuzzer
        # measured it): refused here, they cost nothing.
        return (f"a detection task takes one frame payload and no keyword arguments, got {len(args)} "
                f"argument(s) and {len(kwargs)} keyword(s)")
    return None


def validating_strategy(task: Any, app: Any, consumer: Any, **options: Any) -> Callable[..., Any]:
    """Celery's default strategy for ``task``, behind a check of each message's shape."""
    handle = default_strategy(task, app, consumer, **options)

    def handle_valid(message: Any, body: Any, ack: Any, reject: Any, callbacks: Any, **kwargs: Any) -> Any:
        # message.payload decodes (and caches) the body; a body that cannot be decoded raises
        # kombu's DecodeError or ContentDisallowed here, which the consumer already handles.
        problem = task_message_problem(message.headers, message.payload)
        if problem is not None:
            raise InvalidTaskError(f"malformed task message refused: {problem}")
        return handle(message, body, ack, reject, callbacks, **kwargs)

    return handle_valid


class TaskStrategies(dict[Any, Any]):
    """Task name -> strategy; a name that cannot be a key (a list, a map) is simply unknown."""

    def __getitem__(self, name: Any) -> Any:
        try:
            return super().__getitem__(name)
        except TypeError:
            raise KeyError(name) from None


class ValidatingConsumer(Consumer):  # type: ignore[misc]
    """Celery's worker consumer, with a strategy table that an odd ``task`` header cannot crash."""

    Strategies = TaskStrategies
