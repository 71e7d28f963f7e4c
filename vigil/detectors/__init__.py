"""Detectors (per frame, stateless), their event rules (per camera) and overlays."""

from vigil.detectors.base import Condition, Detector, Event, EventRule, Observation
from vigil.detectors.registry import (
    AlgorithmSpec,
    algorithm_names,
    create_rule,
    draw_overlay,
    get_spec,
    load_detector,
    parse_observation,
    validate_rule_options,
)

__all__ = [
    "AlgorithmSpec",
    "Condition",
    "Detector",
    "Event",
    "EventRule",
    "Observation",
    "algorithm_names",
    "create_rule",
    "draw_overlay",
    "get_spec",
    "load_detector",
    "parse_observation",
    "validate_rule_options",
]
