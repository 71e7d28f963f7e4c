"""Running each camera's event rules on its joined frames, in frame order.

One rule instance per (camera, algorithm), created on first use from the detector
registry with the camera's options from the site file. A rule sees the observation of
every frame that asked for its algorithm (a camera may run an algorithm at a lower rate
than it sends frames), or ``None`` when the frame's result is missing or failed, so its
timing logic stays right when results are lost. When zones of the camera restrict a
rule, it sees only the people and faces inside them (:mod:`vigil.stream.zones`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from vigil.detectors import registry
from vigil.detectors.base import Event, EventRule, Observation
from vigil.detectors.registry import create_rule, get_spec, parse_observation, symbol_by_path
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


def create_camera_rule(algorithm: str, camera: str, options: Mapping[str, Any] | None) -> EventRule:
    """The camera's rule for ``algorithm``, with its options from the site file.

    The registry's ``create_rule(algorithm, camera, options)`` validates the options when it
    has them (with ``validate_rule_options``); until then a rule class takes them as keywords.
    """
    if not options:
        return create_rule(algorithm, camera)
    if hasattr(registry, "validate_rule_options"):
        return cast(Any, create_rule)(algorithm, camera, options)  # type: ignore[no-any-return]
    return symbol_by_path(get_spec(algorithm).rule)(camera=camera, **options)  # type: ignore[no-any-return]


class RuleRunner:
    """Per-camera rules. Used by the processing thread only.

    Args:
        cameras: per camera, its rule options and zones (cameras not listed: defaults, no zone).
    """

    def __init__(self, cameras: Mapping[str, CameraRules] | None = None) -> None:
        self.cameras = dict(cameras or {})
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
        config = self.cameras.get(frame.camera) or CameraRules()
        try:
            rule = self._rules.get(key)
            if rule is None:
                rule = self._rules[key] = create_camera_rule(algorithm, frame.camera, config.options.get(algorithm))
            observation = None
            if result is not None and result.ok and result.observation is not None:
                data = result.observation
                zones = config.zones_for(algorithm)
                if zones:
                    data = filter_observation(data, zones, frame.frame.width, frame.frame.height)
                observation = parse_observation(algorithm, data)
            events = rule.update(frame.seq, frame.captured_at, observation)
            return observation, rule.summary(), events
        except Exception:  # a rule or a malformed observation must not stop the stream
            log.exception("rule %s failed on frame %s#%s", algorithm, frame.camera, frame.seq)
            return None, {}, []
