"""Running each camera's event rules on its joined frames, in frame order.

One rule instance per (camera, algorithm), created on first use from the detector
registry. A rule sees the observation of every frame, or ``None`` when the frame's
result is missing or failed, so its timing logic stays right when results are lost.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from vigil.detectors.base import Event, EventRule, Observation
from vigil.detectors.registry import create_rule, parse_observation
from vigil.messages import DetectionResult
from vigil.stream.reassembly import JoinedFrame

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RuleOutcome:
    """What the rules made of one frame: per algorithm, the observation and summary; all events."""

    observations: dict[str, Observation | None] = dataclasses.field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    events: list[Event] = dataclasses.field(default_factory=list)


class RuleRunner:
    """Per-camera rules. Used by the processing thread only."""

    def __init__(self) -> None:
        self._rules: dict[tuple[str, str], EventRule] = {}

    def apply(self, frame: JoinedFrame) -> RuleOutcome:
        outcome = RuleOutcome()
        for algorithm in frame.expected:
            observation, summary, events = self._apply(frame, algorithm, frame.results.get(algorithm))
            outcome.observations[algorithm] = observation
            outcome.summaries[algorithm] = summary
            outcome.events.extend(events)
        return outcome

    def _apply(
        self, frame: JoinedFrame, algorithm: str, result: DetectionResult | None
    ) -> tuple[Observation | None, dict[str, Any], list[Event]]:
        if result is not None and result.ok and result.synthetic:
            return None, {}, []  # a benchmark stand-in: no rule understands its observation
        key = (frame.camera, algorithm)
        try:
            rule = self._rules.get(key)
            if rule is None:
                rule = self._rules[key] = create_rule(algorithm, frame.camera)
            observation = None
            if result is not None and result.ok and result.observation is not None:
                observation = parse_observation(algorithm, result.observation)
            events = rule.update(frame.seq, frame.captured_at, observation)
            return observation, rule.summary(), events
        except Exception:  # a rule or a malformed observation must not stop the stream
            log.exception("rule %s failed on frame %s#%s", algorithm, frame.camera, frame.seq)
            return None, {}, []
