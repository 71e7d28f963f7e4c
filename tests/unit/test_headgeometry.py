"""Head angles from a synthetic 3D mesh rotated by known angles: signs and values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vigil.detectors._headgeometry import (
    FOREHEAD_TOP,
    MIDLINE,
    MIRROR_PAIRS,
    head_angles,
)


def frontal_mesh() -> np.ndarray:
    """A symmetric toy face: mirror pairs at +-x, the midline along y, nose forward (-z)."""
    rng = np.random.default_rng(3)
    points = np.zeros((468, 3))
    for right, left in MIRROR_PAIRS:
        x, y, z = rng.uniform(20, 60), rng.uniform(-60, 60), rng.uniform(0, 20)
        points[right] = (-x, y, z)
        points[left] = (x, y, z)
    for i, index in enumerate(MIDLINE):
        points[index] = (0.0, -80 + 160 * i / (len(MIDLINE) - 1), -10.0)
    points[FOREHEAD_TOP] = (0.0, -80.0, 0.0)
    return points


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Head rotation in image axes (x right, y down, z away): yaw about y, pitch about x, roll about z."""
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    # Yaw > 0 turns the face toward image right: the face normal (-z) gains +x.
    ry = np.array([[math.cos(y), 0, -math.sin(y)], [0, 1, 0], [math.sin(y), 0, math.cos(y)]])
    # Pitch > 0 looks down: the face normal (-z) gains +y.
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    # Roll > 0 is clockwise in the image: the x axis gains +y.
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return ry @ rx @ rz


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"),
    [(0, 0, 0), (30, 0, 0), (-30, 0, 0), (0, 20, 0), (0, -20, 0), (0, 0, 15), (0, 0, -15), (25, -15, 10)],
)
def test_angles_and_signs(yaw: float, pitch: float, roll: float) -> None:
    mesh = frontal_mesh() @ rotation(yaw, pitch, roll).T + np.array([320.0, 240.0, 0.0])
    got = head_angles(mesh)
    assert got == pytest.approx((yaw, pitch, roll), abs=2.0)


def test_no_flip_across_frontal() -> None:
    # Sweeping yaw through zero must change the angles smoothly (the 6-point solvePnP flipped here).
    previous = None
    for yaw in np.linspace(-40, 40, 81):
        angles = np.array(head_angles(frontal_mesh() @ rotation(yaw, 5, 2).T))
        if previous is not None:
            assert np.abs(angles - previous).max() < 5
        previous = angles
