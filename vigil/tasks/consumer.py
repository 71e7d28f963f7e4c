"""The worker's consumer: Celery's, refusing malformed task messages, sending task events in batches.

Celery's prefork worker already buffers task events, but flushes the buffer on the event
loop's next turn, so each ``task-received``, ``task-started`` and ``task-succeeded`` goes out
as a message of its own: three broker messages a task (counted: 600 ``task.multi`` messages
for 200 tasks). Flushing at most every :data:`EVENT_FLUSH_S` instead (or when Celery's
buffer of 24 fills) sends the same events to Flower in a few messages a second, a fraction
of a second later.
"""

from __future__ import annotations

from typing import Any

from vigil.tasks.validation import ValidatingConsumer

EVENT_FLUSH_S = 0.25  # how late Flower may see a task's events


class WorkerConsumer(ValidatingConsumer):
    """:class:`~vigil.tasks.validation.ValidatingConsumer` whose task events leave in batches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._event_flush_due = False

    def on_send_event_buffered(self) -> None:
        # Called by Celery's dispatcher for each buffered task event; only with the event loop (hub).
        if self.hub is not None and not self._event_flush_due:
            self._event_flush_due = True
            self.hub.call_later(EVENT_FLUSH_S, self._flush_buffered_events)

    def _flush_buffered_events(self) -> None:
        self._event_flush_due = False
        self._flush_events()
