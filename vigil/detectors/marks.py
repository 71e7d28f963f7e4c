"""What an algorithm says about each person in a frame, for the one box per person overlay.

Each algorithm's ``marks(observation, summary)`` returns one :class:`Mark` per body or face
it saw: where (a box) and a few words. The streamer merges the marks of every algorithm into
one box per person with a compact label block (``vigil/stream/people.py``), instead of each
algorithm drawing its own box and label on the same face. Drawings that are not about one
person (a FALL banner, the blink rate, the gaze arrow) stay in the algorithm's ``draw``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

BODY = "body"
FACE = "face"


@dataclasses.dataclass(frozen=True)
class Mark:
    """One algorithm's words about one body or face.

    Attributes:
        box: ``(x, y, w, h)`` in pixels of the frame.
        text: a short label line, e.g. ``"happy 0.91"`` (ASCII: the overlay font has no more).
        part: ``"body"`` or ``"face"``; a face is drawn as part of the body around it.
        alert: draw this person in the alarm colour.
    """

    box: tuple[int, int, int, int]
    text: str
    part: str = FACE
    alert: bool = False

    @classmethod
    def of(cls, box: Sequence[float], text: str, part: str = FACE, alert: bool = False) -> Mark:
        x, y, w, h = (int(round(v)) for v in box)
        return cls((x, y, max(w, 1), max(h, 1)), text, part, alert)
