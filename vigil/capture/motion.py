"""Motion gating: skip detection on still frames, cheaply, in the capture daemon.

Each sampled frame is shrunk to 64 x 36 gray (about 0.1 ms) and compared with a
reference taken at least ``REFERENCE_S`` earlier: comparing over a fixed interval rather
than with the previous frame makes a slow walk count as motion at 30 fps as at 5 fps.
The absolute difference is averaged over blocks of 4 x 4 pixels (a 16 x 9 grid); the
largest block's mean (0..255) at or above ``threshold`` is motion. Detection
keeps running ``hold_s`` after the last motion, so a person lying still after a fall is
still observed while the fall rule confirms it (``down_s``). A gated frame still goes to
the streamers, for viewers; it only asks for no detection.
"""

from __future__ import annotations

import cv2
import numpy as np

GATE_SIZE = (64, 36)
GRID = (16, 9)  # blocks of 4 x 4 pixels of the 64 x 36 image
REFERENCE_S = 0.2


class MotionGate:
    """Decides, frame by frame in media-time order, whether the scene is still.

    Args:
        threshold: mean absolute gray difference (0..255) that counts as motion.
        hold_s: seconds detection keeps running after the last motion.
    """

    def __init__(self, threshold: float, hold_s: float) -> None:
        self.threshold = threshold
        self.hold_s = hold_s
        self._reference: np.ndarray | None = None
        self._reference_time = 0.0
        self._last_motion: float | None = None
        self.last_difference = 0.0  # of the last frame (for tuning and tests)

    def still(self, image: np.ndarray, media_time: float) -> bool:
        """True when ``image`` (BGR) shows no motion and none for ``hold_s``: skip its detection."""
        small = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), GATE_SIZE, interpolation=cv2.INTER_AREA)
        small = small.astype(np.int16)
        if self._reference is None or media_time < self._reference_time:
            # The first frame, or a file replayed from its start: no comparison, assume motion.
            self._reference, self._reference_time = small, media_time
            self._last_motion = media_time
            return False
        difference = np.abs(small - self._reference).astype(np.float32)
        # The largest mean over a grid of blocks: one person moving in a wide, still scene
        # moves a few blocks a lot, where the mean over the whole image barely moves.
        self.last_difference = float(cv2.resize(difference, GRID, interpolation=cv2.INTER_AREA).max())
        if self.last_difference >= self.threshold:
            self._last_motion = media_time
        if media_time - self._reference_time >= REFERENCE_S:
            self._reference, self._reference_time = small, media_time
        return self._last_motion is None or media_time - self._last_motion > self.hold_s

    def reset(self) -> None:
        self._reference, self._last_motion = None, None
