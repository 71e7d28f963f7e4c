"""One overlay per person: every algorithm's marks merged into one box and one label block."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.detectors.marks import BODY, Mark
from vigil.stream.people import ALERT_COLOUR, OK_COLOUR, Person, draw_people, group_people


def body(x: int, y: int, text: str = "lean 5 (0.90)", alert: bool = False) -> Mark:
    return Mark((x, y, 200, 400), text, BODY, alert)


def face(x: int, y: int, text: str, alert: bool = False, size: int = 60) -> Mark:
    return Mark((x, y, size, size), text, alert=alert)


ONE_PERSON_FACES = [face(170, 110, "happy 0.91"), face(165, 104, "yaw +3 pitch -2"), face(172, 112, "EAR 0.31")]


@pytest.mark.parametrize(("marks", "expected"), [
    pytest.param(
        [body(100, 100), *ONE_PERSON_FACES],
        [Person((100, 100, 200, 400), ["lean 5 (0.90)", "happy 0.91", "yaw +3 pitch -2", "EAR 0.31"], False, True)],
        id="a body and three algorithms' boxes of its face: one box, four lines"),
    pytest.param(
        ONE_PERSON_FACES,
        [Person((165, 104, 67, 68), ["happy 0.91", "yaw +3 pitch -2", "EAR 0.31"], False, True)],
        id="faces only (no fall algorithm): one box around them"),
    pytest.param(
        [body(100, 100), body(400, 100), face(170, 110, "sad 0.80"), face(470, 110, "happy 0.90"),
         face(472, 108, "EAR 0.10", alert=True)],
        [Person((100, 100, 200, 400), ["lean 5 (0.90)", "sad 0.80"], False, True),
         Person((400, 100, 200, 400), ["lean 5 (0.90)", "happy 0.90", "EAR 0.10"], True, True)],
        id="two people: each face goes to the body around it, an alarm to its own person"),
    pytest.param(
        [body(100, 100), face(700, 50, "happy 0.90")],
        [Person((100, 100, 200, 400), ["lean 5 (0.90)"], False, False),
         Person((700, 50, 60, 60), ["happy 0.90"], False, True)],
        id="a face outside every body is a person of its own"),
    pytest.param(
        [body(100, 100), face(150, 110, "happy 0.90", size=80), face(230, 120, "sad 0.70", size=40)],
        [Person((100, 100, 200, 400), ["lean 5 (0.90)", "happy 0.90"], False, True),
         Person((230, 120, 40, 40), ["sad 0.70"], False, True)],
        id="two faces in one body box (a child held): the bigger one is that body's"),
    pytest.param(
        [body(100, 100, "lean 80 (0.90)", alert=True), *ONE_PERSON_FACES],
        [Person((100, 100, 200, 400), ["lean 80 (0.90)", "happy 0.91", "yaw +3 pitch -2", "EAR 0.31"], True, True)],
        id="a fallen body alarms the whole person"),
])  # fmt: skip
def test_marks_merge_into_one_person_each(marks: list[Mark], expected: list[Person]) -> None:
    assert group_people(marks) == expected


def test_a_person_is_drawn_once_with_a_label_block_above_the_box() -> None:
    image = np.zeros((600, 800, 3), np.uint8)
    draw_people(image, group_people([body(100, 150, alert=True), *ONE_PERSON_FACES]))

    # The body's box, in the alarm colour
    assert tuple(image[300, 100]) == ALERT_COLOUR and tuple(image[300, 300]) == ALERT_COLOUR
    # No other box: the faces' edges (inside the body, below the label block) stay dark
    assert not image[180, 165:232].any() and not image[150 + 60:175, 232].any()
    # A label block of four lines (white text) sits above the box, not over the person
    rows_with_text = np.flatnonzero((image[:150, 100:300] > 180).all(axis=2).any(axis=1))
    assert rows_with_text.size and rows_with_text.max() < 150
    assert rows_with_text.max() - rows_with_text.min() > 3 * 10  # four lines, not one


@pytest.mark.parametrize(("box", "text_rows"), [
    ((10, 100, 100, 100), (0, 100)),    # room above: above
    ((10, 2, 100, 100), (102, 300)),    # at the top edge: below
    ((10, 2, 100, 290), (0, 100)),      # as tall as the image: over the top of the box, never outside
])
def test_the_label_block_stays_in_the_image_and_off_the_face_when_it_can(box, text_rows) -> None:
    image = np.zeros((300, 300, 3), np.uint8)
    draw_people(image, [Person(box, ["happy 0.91", "EAR 0.31"])])
    assert tuple(image[box[1] + 50, 10]) == OK_COLOUR
    white = np.flatnonzero((image > 180).all(axis=2).any(axis=1))
    assert white.size and text_rows[0] <= white.min() and white.max() < text_rows[1]
