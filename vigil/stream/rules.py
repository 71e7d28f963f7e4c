"""Running each camera's event rules on its joined frames, in frame order.

One rule instance per (camera, algorithm), created on first use from the detector
registry with the camera's options from the site file, and one
:class:`~vigil.detectors.lifecycle.IncidentTracker` beside it that turns the rule's
conditions into ``new`` / ``update`` / ``end`` events. A rule sees the observation of every
frame that asked for its algorithm (a camera may run an algorithm at a lower rate than it
sends frames), or ``None`` when the frame's result is missing or failed, so its timing logic
stays right when results are lost. When zones of the camera restrict a rule, it sees only
the people and faces inside them (:mod:`vigil.stream.zones`). A new capture session of a
camera ends that camera's incidents and starts its rules afresh (its frame numbers start again).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vigil.detectors.base import Event, EventRule, Observation
from vigil.detectors.lifecycle import IncidentTracker
from vigil.detectors.registry import create_rule, parse_observation, rule_cooldown, validate_rule_options
from vigil.errors import ConfigError
from vigil.messages import DetectionResult
from vigil.stream.reassembly import JoinedFrame
from vigil.stream.zones import Zone, filter_observation

if TYPE_CHECKING:
    from vigil.config import SiteConfig

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RuleOutcome:
    """What the rules made of one frame: per algorithm, the observation and summary; all events."""

    observations: dict[str, Observation | None] = dataclasses.field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    events: list[Event] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class CameraRules:
    """What the site file says about one camera's rules: options per algorithm, zones."""

    options: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    zones: tuple[Zone, ...] = ()

    def zones_for(self, algorithm: str) -> list[Zone]:
        return [zone for zone in self.zones if zone.restricts(algorithm)]


def camera_rules(site: SiteConfig | None) -> dict[str, CameraRules]:
    """Every camera's :class:`CameraRules` from the site file (none without one)."""
    if site is None:
        return {}
    return {
        name: CameraRules(
            options=dict(camera.rules),
            zones=tuple(Zone(zone_name, tuple(zone.points), tuple(zone.rules))
                        for zone_name, zone in camera.zones.items()),
        )
        for name, camera in site.cameras.items()
    }


@dataclasses.dataclass
class _Running:
    rule: EventRule
    incidents: IncidentTracker
    session: int


class RuleRunner:
    """Per-camera rules and their incidents. Used by the processing thread only.

    Args:
        cameras: per camera, its rule options and zones (cameras not listed: defaults, no
            zone). Options are checked here, so a bad key fails when the streamer starts
            rather than at a camera's first frame.

    Raises:
        ConfigError: bad options (naming the camera, the rule and the key).
    """

    def __init__(self, cameras: Mapping[str, CameraRules] | None = None) -> None:
        self.cameras = dict(cameras or {})
        for camera, config in self.cameras.items():
            for algorithm, values in config.options.items():
                try:
                    validate_rule_options(algorithm, values)
                except ConfigError as exc:
                    raise ConfigError(f"camera {camera!r}: {exc}") from None
        self._running: dict[tuple[str, str], _Running] = {}

    def apply(self, frame: JoinedFrame) -> RuleOutcome:
        outcome = RuleOutcome()
        for algorithm in frame.expected:
            observation, summary, events = self._apply(frame, algorithm, frame.results.get(algorithm))
            outcome.observations[algorithm] = observation
            outcome.summaries[algorithm] = summary
            outcome.events.extend(events)
        return outcome

    def flush(self) -> list[Event]:
        """The stream ends (a file played to its end): send the ``end`` of incidents that cleared."""
        return [event for running in self._running.values() for event in running.incidents.flush()]

    def _apply(
        self, frame: JoinedFrame, algorithm: str, result: DetectionResult | None
    ) -> tuple[Observation | None, dict[str, Any], list[Event]]:
        if result is not None and result.ok and result.synthetic:
            return None, {}, []  # a benchmark stand-in: no rule understands its observation
        key = (frame.camera, algorithm)
        config = self.cameras.get(frame.camera) or CameraRules()
        events: list[Event] = []
        try:
            running = self._running.get(key)
            if running is not None and running.session != frame.session:
                events.extend(running.incidents.close())
                running = None
            if running is None:
                running = self._running[key] = self._start(frame, algorithm, config)
            observation = None
            if result is not None and result.ok and result.observation is not None:
                data = result.observation
                zones = config.zones_for(algorithm)
                if zones:
                    data = filter_observation(data, zones, frame.frame.width, frame.frame.height)
                observation = parse_observation(algorithm, data)
            conditions = running.rule.update(frame.seq, frame.captured_at, observation)
            events.extend(running.incidents.update(frame.session, frame.seq, frame.captured_at, conditions))
            return observation, running.rule.summary(), events
        except Exception:  # a rule or a malformed observation must not stop the stream
            log.exception("rule %s failed on frame %s#%s", algorithm, frame.camera, frame.seq)
            return None, {}, events

    def _start(self, frame: JoinedFrame, algorithm: str, config: CameraRules) -> _Running:
        rule = create_rule(algorithm, frame.camera, config.options.get(algorithm))
        incidents = IncidentTracker(frame.camera, algorithm, rule_cooldown(rule))
        return _Running(rule, incidents, frame.session)
