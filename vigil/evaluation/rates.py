"""Accuracy at lower detection rates: the numbers behind the default per-algorithm rates.

Each detector runs once on every frame of the labelled clips (the expensive part); for
each rate, a fresh rule is then fed only the frames the capture daemon would send at that
rate (:class:`vigil.rates.RateSchedule`, chosen by time), and the same scoring as the
full evaluation is applied. Frames not sent keep the last observation and summary, as the
live view would show them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vigil.evaluation.runs import ClipRun, Evaluation, RuleFeed
from vigil.rates import sampled_frames

log = logging.getLogger(__name__)

DEFAULT_RATES = (30.0, 15.0, 10.0, 7.5, 5.0, 3.0, 2.0)
# Each rate is measured from PHASES starting points spread over one period: which frames a
# camera happens to pick changes the result, and one lucky phase must not set a default.
PHASES = 3


def subsample(algorithm: str, camera: str, full: ClipRun, fps: float, rate: float | None,
              phase: float = 0.0) -> ClipRun:
    """``full``'s observations fed to a fresh rule at ``rate``; the rest hold the last one."""
    feed = RuleFeed(algorithm, camera)
    observation: Any = None
    summary: dict[str, Any] = {}
    for seq, (sent, seen) in enumerate(zip(sampled_frames(len(full.observations), fps, rate, phase), full.observations,
                                           strict=True)):
        if observation is None and not sent:
            observation = _empty(seen)  # before the first frame sent (a later phase): nobody seen yet
        if sent:
            observation = seen
            feed.update(seq, seq / fps, seen)
            summary = feed.rule.summary()
        feed.run.observations.append(observation)
        feed.run.summaries.append(summary)
    return feed.finish()


def _empty(observation: Any) -> Any:
    field = "faces" if hasattr(observation, "faces") else "people"
    return dataclasses.replace(observation, **{field: ()})


class SubsampledEvaluation(Evaluation):
    """The full evaluation's scoring, on runs subsampled from ``base``'s full-rate runs."""

    def __init__(self, base: Evaluation, rate: float | None, phase: float = 0.0) -> None:
        super().__init__(base.data_dir)
        self.base, self.rate, self.phase = base, rate, phase

    def run(self, algorithm: str, clip: str) -> ClipRun:
        key = (algorithm, clip)
        if key not in self._runs:
            fps = self.fps(clip)
            self._runs[key] = subsample(algorithm, Path(clip).stem, self.base.run(algorithm, clip), fps,
                                           self.rate, self.phase)
        return self._runs[key]


def _fall(evaluation: Evaluation) -> dict[str, Any]:
    result = evaluation.fall()
    delays = result["delays_s"]
    return {"found": result["found"], "of": result["falls"], "false": sum(map(len, result["false_alarms"].values())),
            "delay_s": float(np.median(delays)) if delays else None}


def _blink(evaluation: Evaluation) -> dict[str, Any]:
    result = evaluation.blink()
    return {"found": result["found"], "of": result["required"], "false": result["fp"],
            "closures": f"{result['closures_ok']}/{result['closures']}"}


def _pose(evaluation: Evaluation) -> dict[str, Any]:
    extremes = evaluation.pose()["extremes"]
    errors = [row["mae"] for row in extremes]
    signs = [row["sign"] for row in extremes]
    return {"mae": float(np.mean(errors)) if errors else None, "sign": float(np.mean(signs)) if signs else None}


def _emotion(evaluation: Evaluation) -> dict[str, Any]:
    segments = evaluation.emotion()["segments"]
    frames = sum(s["frames"] for s in segments)
    right = sum(s["share"] * s["frames"] for s in segments)
    return {"share": right / frames if frames else None}


MEASURES: dict[str, Callable[[Evaluation], dict[str, Any]]] = {
    "fall": _fall, "blink": _blink, "pose": _pose, "emotion": _emotion,
}


def measure_rates(data_dir: Path, algorithms: Sequence[str], rates: Sequence[float]) -> dict[str, list[dict[str, Any]]]:
    """Per algorithm, one row per rate (the full rate first) of that algorithm's measure."""
    base = Evaluation(Path(data_dir))
    table: dict[str, list[dict[str, Any]]] = {}
    for algorithm in algorithms:
        rows = [{"rate": None, **MEASURES[algorithm](base)}]
        for rate in rates:
            log.info("%s at %g fps", algorithm, rate)
            runs = [MEASURES[algorithm](SubsampledEvaluation(base, rate, k / PHASES / rate)) for k in range(PHASES)]
            rows.append({"rate": rate, **_worst_and_best(runs)})
        table[algorithm] = rows
    return table


def _worst_and_best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers as "worst..best" over the phases (a single value when they agree)."""
    merged: dict[str, Any] = {}
    for key in runs[0]:
        values = [run[key] for run in runs]
        if all(isinstance(v, (int, float)) for v in values):
            low, high = min(values), max(values)
            merged[key] = low if low == high else f"{_cell(low)}..{_cell(high)}"
        else:
            merged[key] = " ".join(dict.fromkeys(str(v) for v in values))
    return merged


def render_rates(table: dict[str, list[dict[str, Any]]], command: str) -> str:
    """The markdown tables of :func:`measure_rates`."""
    lines = [f"Produced by `{command}`. Each rate is run from {PHASES} phases (which frames the camera picks); "
             "`a..b` is the range over them.", ""]
    for algorithm, rows in table.items():
        keys = [key for key in rows[0] if key != "rate"]
        lines += [f"### {algorithm}", "", "| rate (fps) | " + " | ".join(keys) + " |",
                  "|---|" + "---|" * len(keys)]
        for row in rows:
            rate = "every frame" if row["rate"] is None else f"{row['rate']:g}"
            lines.append(f"| {rate} | " + " | ".join(_cell(row[key]) for key in keys) + " |")
        lines.append("")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
