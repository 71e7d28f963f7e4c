"""One readable overlay per person: every algorithm's marks merged into one box and one label block.

Fall sees bodies; emotion, head pose and blink each see faces, with slightly different boxes
for the same face. Drawn separately they gave one person three or four overlapping boxes with
colliding labels. Here faces that overlap are one face, a face belongs to the body around it,
and each person is drawn once: the body's box (else the face's), then a compact block of one
line per algorithm, in the alarm colour when any algorithm alarms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import cv2
import numpy as np

from vigil.detectors.marks import BODY, Mark

Box = tuple[int, int, int, int]

SAME_FACE_IOU = 0.3   # two algorithms' boxes of one face overlap far more than this; two faces far less
OK_COLOUR = (60, 200, 60)
ALERT_COLOUR = (40, 40, 230)
TEXT_COLOUR = (255, 255, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclasses.dataclass
class Person:
    """What is drawn for one person: one box, one label block."""

    box: Box
    lines: list[str]
    alert: bool = False
    has_face: bool = False


def group_people(marks: Sequence[Mark]) -> list[Person]:
    """Merge marks (in algorithm order) into people: bodies first, then faces that have none."""
    people = [Person(mark.box, [mark.text], mark.alert) for mark in marks if mark.part == BODY]
    faces = _same_faces([mark for mark in marks if mark.part != BODY])
    for face in sorted(faces, key=lambda group: -_area(_union(group))):  # the biggest face claims first
        box = _union(face)
        owner = _body_around(people, box)
        if owner is None:
            people.append(owner := Person(box, []))
        owner.has_face = True
        owner.lines.extend(mark.text for mark in face)
        owner.alert = owner.alert or any(mark.alert for mark in face)
    return people


def draw_people(image: np.ndarray, people: Sequence[Person]) -> None:
    """Each person's box and label block, in place."""
    scale = max(0.4, image.shape[1] / 1600)
    (_, text_height), baseline = cv2.getTextSize("Ag", FONT, scale, 1)
    step = text_height + baseline + 3
    for person in people:
        colour = ALERT_COLOUR if person.alert else OK_COLOUR
        x, y, w, h = person.box
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, 2)
        lines = [line for line in person.lines if line]
        if not lines:
            continue
        width = max(cv2.getTextSize(line, FONT, scale, 1)[0][0] for line in lines) + 8
        height = step * len(lines) + 4
        left = min(max(0, x), max(0, image.shape[1] - width))
        top = _label_top(y, h, height, image.shape[0])
        cv2.rectangle(image, (left, top), (left + width, top + height), (0, 0, 0), cv2.FILLED)
        cv2.rectangle(image, (left, top), (left + 3, top + height), colour, cv2.FILLED)
        for index, line in enumerate(lines):
            origin = (left + 6, top + 2 + step * index + text_height)
            cv2.putText(image, line, origin, FONT, scale, TEXT_COLOUR, 1, cv2.LINE_AA)


def _label_top(y: int, h: int, height: int, image_height: int) -> int:
    """Above the box if it fits, else below it, else as high as the image allows (over the box)."""
    if y - height >= 0:
        return y - height
    if y + h + height <= image_height:
        return y + h
    return 0


def _same_faces(faces: list[Mark]) -> list[list[Mark]]:
    groups: list[list[Mark]] = []
    for face in faces:
        for group in groups:
            if _iou(group[0].box, face.box) >= SAME_FACE_IOU:
                group.append(face)
                break
        else:
            groups.append([face])
    return groups


def _body_around(people: list[Person], face: Box) -> Person | None:
    """The smallest body without a face yet whose box holds the face's centre."""
    cx, cy = face[0] + face[2] / 2, face[1] + face[3] / 2
    around = [person for person in people
              if not person.has_face and person.lines
              and person.box[0] <= cx <= person.box[0] + person.box[2]
              and person.box[1] <= cy <= person.box[1] + person.box[3]]
    return min(around, key=lambda person: _area(person.box), default=None)


def _union(marks: list[Mark]) -> Box:
    x0 = min(mark.box[0] for mark in marks)
    y0 = min(mark.box[1] for mark in marks)
    x1 = max(mark.box[0] + mark.box[2] for mark in marks)
    y1 = max(mark.box[1] + mark.box[3] for mark in marks)
    return (x0, y0, x1 - x0, y1 - y0)


def _area(box: Box) -> int:
    return box[2] * box[3]


def _iou(a: Box, b: Box) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    union = _area(a) + _area(b) - inter
    return inter / union if union else 0.0
