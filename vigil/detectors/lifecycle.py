"""From conditions to incidents: ``new`` / ``update`` / ``end`` events with stable ids.

Rules report, after every frame, the conditions that hold (:class:`~vigil.detectors.base.Condition`);
:class:`IncidentTracker` is the same for every rule and turns them into incident events. Pure:
no clock but the frames' capture times, no I/O.

Per camera and kind there is at most one open incident:

- ``new``: a condition of that kind appears and no incident of that kind is open. The id is
  :func:`~vigil.detectors.base.event_id` of camera, session, kind and the condition's
  ``start_seq`` (the onset the rule computed, not the frame it fired on), so two streamers
  fed the same frames name it alike.
- ``update``: while open, the severity rises (it never falls within an incident), another
  onset joins (a second person falls, the same person re-triggers), or the incident
  re-triggers during its cooldown.
- ``end``: once no condition of that kind held for ``cooldown_s`` (capture time) since it
  cleared. ``end`` carries the capture time it cleared; ``seq``/``time`` are the frame the
  cooldown ran out on. A re-trigger within the cooldown is an ``update`` of the same id, so
  an incident that flickers on and off stays ONE alert: ``new``, maybe ``update``s, one ``end``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from vigil.detectors.base import Condition, Event, event_id, severity_rank


@dataclasses.dataclass
class _Incident:
    id: str
    kind: str
    session: int
    start_seq: int
    start: float
    severity: str
    score: float
    details: dict[str, Any]
    onsets: set[tuple[int, int]]
    cleared: tuple[int, float] | None = None


class IncidentTracker:
    """One camera's incidents for one rule. Fed in frame order, like the rule.

    Args:
        camera: camera name.
        algorithm: the rule's algorithm (carried by every event).
        cooldown_s: see the module docstring; 0 ends an incident on the frame it clears.
    """

    def __init__(self, camera: str, algorithm: str, cooldown_s: float) -> None:
        self.camera = camera
        self.algorithm = algorithm
        self.cooldown_s = cooldown_s
        self._open: dict[str, _Incident] = {}
        self._last: tuple[int, int, float] | None = None  # session, seq, time of the last frame

    @property
    def open(self) -> list[str]:
        """Ids of the incidents not ended yet (including those cooling down)."""
        return [incident.id for incident in self._open.values()]

    def update(self, session: int, seq: int, time: float, conditions: Iterable[Condition]) -> list[Event]:
        """The events of one frame, given the conditions that hold after it.

        A frame of another session first ends every incident of the previous one (its frames
        stopped; the rule starts afresh).
        """
        events = []
        if self._last is not None and self._last[0] != session:
            events.extend(self.close())
        self._last = (session, seq, time)
        by_kind: dict[str, list[Condition]] = {}
        for condition in conditions:
            by_kind.setdefault(condition.kind, []).append(condition)
        for kind in sorted(set(by_kind) | set(self._open)):
            held = by_kind.get(kind)
            incident = self._open.get(kind)
            if held:
                events.extend(self._hold(kind, incident, held, session, seq, time))
            elif incident is not None:
                if incident.cleared is None:
                    incident.cleared = (seq, time)
                if time - incident.cleared[1] >= self.cooldown_s:
                    events.append(self._end(incident, seq, time, incident.cleared[1]))
        return events

    def flush(self) -> list[Event]:
        """End now the incidents that already cleared (end of the stream: no re-trigger can come)."""
        if self._last is None:
            return []
        _, seq, time = self._last
        return [
            self._end(incident, seq, time, incident.cleared[1])
            for incident in list(self._open.values())
            if incident.cleared is not None
        ]

    def close(self) -> list[Event]:
        """End every incident (the session stopped): open ones end at the last frame seen."""
        events = self.flush()
        if self._last is not None:
            _, seq, time = self._last
            for incident in list(self._open.values()):
                incident.details = {**incident.details, "ended_by": "session"}
                events.append(self._end(incident, seq, time, time))
        return events

    def _hold(
        self, kind: str, incident: _Incident | None, held: list[Condition], session: int, seq: int, time: float
    ) -> list[Event]:
        # The most severe condition speaks for the incident; among equals, the earliest onset.
        main = min(held, key=lambda c: (-severity_rank(c.severity), c.start_seq, c.subject))
        score = max(c.score for c in held)
        details = dict(main.details) if len(held) == 1 else {**main.details, "count": len(held)}
        onsets = {(c.subject, c.start_seq) for c in held}
        if incident is None:
            first = min(held, key=lambda c: (c.start_seq, c.subject))
            incident = _Incident(
                id=event_id(self.camera, session, kind, first.start_seq), kind=kind, session=session,
                start_seq=first.start_seq, start=first.start, severity=main.severity, score=score,
                details=details, onsets=onsets,
            )  # fmt: skip
            self._open[kind] = incident
            return [self._event(incident, "new", seq, time)]
        notable = (
            severity_rank(main.severity) > severity_rank(incident.severity)
            or not onsets <= incident.onsets
            or incident.cleared is not None
        )
        if severity_rank(main.severity) > severity_rank(incident.severity):
            incident.severity = main.severity
        incident.score, incident.details, incident.cleared = score, details, None
        incident.onsets |= onsets
        return [self._event(incident, "update", seq, time)] if notable else []

    def _end(self, incident: _Incident, seq: int, time: float, cleared_at: float) -> Event:
        del self._open[incident.kind]
        incident.details = {**incident.details, "duration_s": round(cleared_at - incident.start, 3)}
        return self._event(incident, "end", seq, time, end=cleared_at)

    def _event(self, incident: _Incident, message: str, seq: int, time: float, end: float | None = None) -> Event:
        return Event(
            id=incident.id, type=message, camera=self.camera, session=incident.session, algorithm=self.algorithm,
            kind=incident.kind, severity=incident.severity, start_seq=incident.start_seq, start=incident.start,
            seq=seq, time=time, end=end, score=round(incident.score, 3), details=dict(incident.details),
        )  # fmt: skip
