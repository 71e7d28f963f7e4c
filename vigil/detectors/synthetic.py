"""Stand-in detectors with a known cost, for benchmarks of the pipeline itself.

``VIGIL_DETECTOR_OVERRIDE`` (workers only) puts one of these behind every queue:

- ``null``: no model; reports the frame's mean brightness (the task still decodes the JPEG).
- ``busy:MS``: spins the CPU for MS milliseconds (a CPU-bound model).
- ``sleep:MS``: waits MS milliseconds without CPU (an I/O-bound or remote model).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from vigil.errors import ConfigError

SYNTHETIC_KINDS = ("null", "busy", "sleep")


@dataclasses.dataclass(frozen=True)
class SyntheticObservation:
    """What a synthetic detector reports: the frame's mean brightness and its cost."""

    mean: float
    cost_ms: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyntheticObservation:
        return cls(mean=float(data["mean"]), cost_ms=float(data["cost_ms"]))


class SyntheticDetector:
    """A detector with a fixed cost, standing in for the algorithm ``name``."""

    def __init__(self, name: str, kind: str, cost_ms: float) -> None:
        self.name = name
        self.kind = kind
        self.cost_ms = cost_ms

    def detect(self, image: np.ndarray) -> SyntheticObservation:
        # Read a thumbnail so the work depends on the frame without costing much.
        mean = float(image[::16, ::16].mean())
        if self.kind == "busy":
            deadline = time.perf_counter() + self.cost_ms / 1000
            while time.perf_counter() < deadline:
                pass
        elif self.kind == "sleep":
            time.sleep(self.cost_ms / 1000)
        return SyntheticObservation(mean=mean, cost_ms=self.cost_ms)


def parse_override(value: str) -> tuple[str, float]:
    """Parse ``null``, ``busy:50`` or ``sleep:50`` into (kind, milliseconds).

    Raises:
        ConfigError: anything else.
    """
    kind, _, ms = value.strip().partition(":")
    if kind not in SYNTHETIC_KINDS:
        raise ConfigError(
            f"detector override {value!r}: expected one of null, busy:MS, sleep:MS"
        )
    if kind == "null":
        if ms:
            raise ConfigError(f"detector override {value!r}: 'null' takes no duration")
        return kind, 0.0
    try:
        cost = float(ms)
    except ValueError:
        raise ConfigError(f"detector override {value!r}: {ms!r} is not a number of milliseconds") from None
    if cost < 0:
        raise ConfigError(f"detector override {value!r}: the duration must not be negative")
    return kind, cost


def synthetic_detector(value: str, algorithm: str) -> SyntheticDetector:
    kind, cost = parse_override(value)
    return SyntheticDetector(algorithm, kind, cost)
