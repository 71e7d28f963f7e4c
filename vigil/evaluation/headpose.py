"""Head-pose scoring: angles at labelled extremes, flips, steadiness of a still head.

Every labelled clip gets its own row, so a folder with several yaw (or pitch) clips reports
each of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

FLIP_DEGREES = 45.0
EXTREME_KEYS = {"yaw_extremes": ("yaw", 0), "pitch_extremes": ("pitch", 1)}


def angles_of(observations: Sequence[Any]) -> np.ndarray:
    """(frames, 3) yaw, pitch, roll of the main face; NaN where there is no face."""
    rows = [[o.faces[0].yaw, o.faces[0].pitch, o.faces[0].roll] if o.faces else [np.nan] * 3 for o in observations]
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def score_extremes(values: np.ndarray, extremes: dict[str, float]) -> dict[str, Any]:
    """Sign agreement and mean absolute error at labelled frames ("frame" -> degrees).

    A frame with no face (NaN) or beyond the clip's end counts as wrong sign, infinite error.
    """
    errors, signs = [], []
    for frame, truth in extremes.items():
        index = int(frame)
        value = values[index] if index < len(values) else np.nan
        if np.isnan(value):
            errors.append(float("inf"))
            signs.append(False)
            continue
        errors.append(abs(float(value) - truth))
        signs.append(bool(np.sign(value) == np.sign(truth)))
    return {
        "n": len(errors),
        "sign": float(np.mean(signs)) if signs else 1.0,
        "mae": float(np.mean(errors)) if errors else 0.0,
    }


def count_flips(angles: np.ndarray) -> int:
    """Frame-to-frame jumps over FLIP_DEGREES in any angle (a pose solver's +-180 flip)."""
    valid = angles[~np.isnan(angles[:, 0])]
    if len(valid) < 2:
        return 0
    jumps = np.abs((np.diff(valid, axis=0) + 180) % 360 - 180)
    return int((jumps > FLIP_DEGREES).any(axis=1).sum())


def steadiness(angles: np.ndarray) -> dict[str, float]:
    """Median, standard deviation and 5-95% spread of yaw and pitch (NaN without any face)."""
    result = {}
    for name, column in (("yaw", 0), ("pitch", 1)):
        values = angles[:, column]
        values = values[~np.isnan(values)]
        if not len(values):
            result.update({f"{name}_median": np.nan, f"{name}_sd": np.nan, f"{name}_spread": np.nan})
            continue
        result[f"{name}_median"] = float(np.median(values))
        result[f"{name}_sd"] = float(np.std(values))
        result[f"{name}_spread"] = float(np.percentile(values, 95) - np.percentile(values, 5))
    return result
