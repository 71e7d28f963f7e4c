"""Head rotation from Face Mesh's 3D landmarks, with no 2D-3D fit (so no flips).

A generic ``solvePnP`` on six 2D points has two near-equal solutions for a face seen
almost frontally and jumps between them (roll +-180, pitch spikes). Face Mesh already
gives depth, so the head's own axes can be read off the mesh directly: left-right from
mirror-image landmark pairs, up-down from the face's midline. The rotation built from
those axes is unique and changes smoothly with the head.

Angles, in degrees, in the image's frame (x right, y down, z away from the camera):

- yaw > 0: face turned toward the image's right;
- pitch > 0: looking down (chin toward the chest);
- roll > 0: head tilted clockwise as seen in the image (toward the image's right).
"""

from __future__ import annotations

import math

import numpy as np

# Mirror pairs (person's right, person's left): eye corners, brows, cheeks, jaw, mouth corners.
MIRROR_PAIRS = (
    (33, 263), (133, 362), (70, 300), (105, 334), (234, 454), (93, 323),
    (132, 361), (58, 288), (172, 397), (61, 291), (127, 356), (50, 280),
)  # fmt: skip
# The face's midline from the top of the forehead to the chin.
MIDLINE = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 2, 164, 0, 17, 18, 200, 199, 175, 152)
FOREHEAD_TOP, CHIN = 10, 152


def head_axes(landmarks: np.ndarray) -> np.ndarray:
    """The head's rotation matrix; its columns are the head's right, down and backward axes."""
    pairs = np.array(MIRROR_PAIRS)
    across = (landmarks[pairs[:, 1]] - landmarks[pairs[:, 0]]).sum(axis=0)
    x_axis = across / np.linalg.norm(across)
    # Principal direction of the midline points, oriented forehead -> chin.
    midline = landmarks[list(MIDLINE)]
    centred = midline - midline.mean(axis=0)
    down = np.linalg.svd(centred, full_matrices=False)[2][0]
    if np.dot(down, landmarks[CHIN] - landmarks[FOREHEAD_TOP]) < 0:
        down = -down
    y_axis = down - np.dot(down, x_axis) * x_axis  # Gram-Schmidt: exactly perpendicular
    y_axis /= np.linalg.norm(y_axis)
    z_axis = np.cross(x_axis, y_axis)
    return np.stack([x_axis, y_axis, z_axis], axis=1)


def head_angles(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from (468, 3) landmarks in image pixels."""
    rotation = head_axes(landmarks)
    facing = -rotation[:, 2]  # out of the face, toward the camera when frontal
    yaw = math.degrees(math.atan2(facing[0], -facing[2]))
    pitch = math.degrees(math.atan2(facing[1], math.hypot(facing[0], facing[2])))
    x_axis = rotation[:, 0]
    roll = math.degrees(math.atan2(x_axis[1], x_axis[0]))
    return yaw, pitch, roll
