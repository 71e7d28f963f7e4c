"""Which implementation serves which algorithm, imported lazily.

The algorithm name is also the Celery queue name and the routing key: one string,
one meaning. Built-in algorithms are listed in ``BUILTIN``; other packages add their
own through the ``vigil.detectors`` entry point group, each entry point naming an
:class:`AlgorithmSpec`::

    # setup.cfg of a plug-in package
    [options.entry_points]
    vigil.detectors =
        mask = vigil_mask.plugin:SPEC

    # vigil_mask/plugin.py
    from vigil.detectors import AlgorithmSpec
    SPEC = AlgorithmSpec(
        name="mask",
        detector="vigil_mask.detector:MaskDetector",
        observation="vigil_mask.detector:MaskObservation",
        rule="vigil_mask.detector:MaskRule",
        overlay="vigil_mask.detector:draw",
        options="vigil_mask.detector:MaskOptions",  # optional: a pydantic model
        marks="vigil_mask.detector:marks",  # optional
    )

A new algorithm also needs its queue: add its name to ``VIGIL_ALGORITHMS`` so that
``celeryconfig.py`` declares it.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import threading
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

import numpy as np
import pydantic

from vigil.detectors.base import Detector, EventRule, Observation
from vigil.detectors.marks import Mark
from vigil.detectors.options import DEFAULT_COOLDOWN_S, RuleOptions
from vigil.errors import ConfigError, DetectorError, UnknownDetectorError

ENTRY_POINT_GROUP = "vigil.detectors"


@dataclasses.dataclass(frozen=True)
class AlgorithmSpec:
    """Where an algorithm's pieces live, each as ``"package.module:attribute"``.

    Attributes:
        name: algorithm, queue and routing-key name.
        detector: a :class:`~vigil.detectors.base.Detector` class (no-argument constructor).
        observation: the observation dataclass, with a ``from_dict`` classmethod.
        rule: an :class:`~vigil.detectors.base.EventRule` class, constructed with ``camera=``
            and, when ``options`` is set, ``options=`` (an instance of that model).
        overlay: ``draw(image, observation, summary) -> None``, drawing in place what is not
            about one person (banners, rates).
        options: the rule's options, a pydantic model with defaults for every field (None:
            the rule takes no options).
        marks: optional ``marks(observation, summary) -> list[Mark]``: each body or face with a
            short label, merged with the other algorithms' into one box per person
            (:mod:`vigil.detectors.marks`). Without it, ``overlay`` draws its own boxes.
    """

    name: str
    detector: str
    observation: str
    rule: str
    overlay: str
    options: str | None = None
    marks: str | None = None


def _builtin(name: str, module: str, stem: str) -> AlgorithmSpec:
    path = f"vigil.detectors.{module}"
    return AlgorithmSpec(
        name=name,
        detector=f"{path}:{stem}Detector",
        observation=f"{path}:{stem}Observation",
        rule=f"{path}:{stem}Rule",
        overlay=f"{path}:draw",
        options=f"vigil.detectors.options:{stem}Options",
        marks=f"{path}:marks",
    )


BUILTIN: Mapping[str, AlgorithmSpec] = {
    "fall": _builtin("fall", "fall", "Fall"),
    "emotion": _builtin("emotion", "emotion", "Emotion"),
    "pose": _builtin("pose", "headpose", "HeadPose"),
    "blink": _builtin("blink", "blink", "Blink"),
}


@functools.cache
def _all_specs() -> dict[str, AlgorithmSpec]:
    specs = dict(BUILTIN)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        spec = entry.load()
        if not isinstance(spec, AlgorithmSpec):
            raise DetectorError(
                f"entry point {entry.name!r} in group {ENTRY_POINT_GROUP!r} "
                f"must name an AlgorithmSpec, got {type(spec).__name__}"
            )
        specs.setdefault(spec.name, spec)
    return specs


def algorithm_names() -> tuple[str, ...]:
    """Every algorithm Vigil knows: the built-in four, then plug-ins."""
    return tuple(_all_specs())


def get_spec(name: str) -> AlgorithmSpec:
    """Return the spec registered under ``name``.

    Raises:
        UnknownDetectorError: no such algorithm; the message lists the known ones
            and suggests the nearest.
    """
    specs = _all_specs()
    try:
        return specs[name]
    except KeyError:
        raise UnknownDetectorError(unknown_algorithm_message(name, specs)) from None


def unknown_algorithm_message(name: str, known: Mapping[str, Any] | tuple[str, ...]) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown algorithm {name!r}; known algorithms: {', '.join(names)}.{hint}"


def symbol_by_path(path: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module_name, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise DetectorError(f"cannot import {path!r}: {exc}") from exc


_load_lock = threading.Lock()
_detectors: dict[tuple[str, str | None], Detector] = {}


def load_detector(name: str, override: str | None = None) -> Detector:
    """Return this process's detector for ``name``, creating it on first use.

    Args:
        name: the algorithm.
        override: a synthetic stand-in for benchmarks (``null``, ``busy:50``,
            ``sleep:50``); see :mod:`vigil.detectors.synthetic`.

    Raises:
        UnknownDetectorError: no such algorithm.
        DetectorError: the model failed to load.
    """
    key = (name, override)
    detector = _detectors.get(key)
    if detector is not None:
        return detector
    with _load_lock:  # two threads of one worker must not both load a model
        detector = _detectors.get(key)
        if detector is None:
            detector = _create_detector(name, override)
            _detectors[key] = detector
    return detector


def _create_detector(name: str, override: str | None) -> Detector:
    spec = get_spec(name)
    if override:
        from vigil.detectors.synthetic import synthetic_detector

        return synthetic_detector(override, algorithm=name)
    cls = symbol_by_path(spec.detector)
    try:
        return cls()
    except DetectorError:
        raise
    except Exception as exc:
        raise DetectorError(f"cannot load the {name!r} detector: {exc}") from exc


def parse_observation(name: str, data: dict[str, Any]) -> Observation:
    """Rebuild ``name``'s observation dataclass from its dict form."""
    return symbol_by_path(get_spec(name).observation).from_dict(data)


def validate_rule_options(name: str, options: Mapping[str, Any] | None = None) -> RuleOptions | None:
    """Check ``name``'s rule options (a vigil.toml table) without building the rule.

    Returns:
        The options model with every default filled in (None for a plug-in without options).

    Raises:
        UnknownDetectorError: no such algorithm.
        ConfigError: an unknown key (with the nearest known one) or a bad value, naming the key.
    """
    spec = get_spec(name)
    if spec.options is None:
        if options:
            raise ConfigError(f"rule {name!r} takes no options; got {', '.join(sorted(options))}")
        return None
    model: type[RuleOptions] = symbol_by_path(spec.options)
    try:
        return model.model_validate(dict(options or {}))
    except pydantic.ValidationError as exc:
        raise ConfigError(_options_message(name, model, exc)) from None


def _options_message(name: str, model: type[RuleOptions], exc: pydantic.ValidationError) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, list(model.model_fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown option {key!r}{hint}")
        elif key:
            problems.append(f"option {key!r}: {error['msg']} (got {error.get('input')!r})")
        else:
            problems.append(error["msg"])
    return f"rule {name!r}: " + "; ".join(problems)


def create_rule(name: str, camera: str, options: Mapping[str, Any] | None = None) -> EventRule:
    """A fresh per-camera event rule for ``name``, with ``options`` over the defaults.

    Raises:
        UnknownDetectorError: no such algorithm.
        ConfigError: bad options (see :func:`validate_rule_options`).
    """
    model = validate_rule_options(name, options)
    cls = symbol_by_path(get_spec(name).rule)
    return cls(camera=camera) if model is None else cls(camera=camera, options=model)


def rule_cooldown(rule: EventRule) -> float:
    """The rule's incident cooldown (its options' ``cooldown_s``; the default without options)."""
    options = getattr(rule, "options", None)
    return float(getattr(options, "cooldown_s", DEFAULT_COOLDOWN_S))


def draw_overlay(name: str, image: np.ndarray, observation: Observation, summary: dict[str, Any]) -> None:
    """Draw ``name``'s overlay for one observation onto ``image``, in place."""
    symbol_by_path(get_spec(name).overlay)(image, observation, summary)


def person_marks(name: str, observation: Observation, summary: dict[str, Any]) -> list[Mark]:
    """``name``'s marks (each body or face with a short label); none if it draws its own boxes."""
    path = get_spec(name).marks
    return list(symbol_by_path(path)(observation, summary)) if path else []
