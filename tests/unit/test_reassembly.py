"""Joining results to frames and emitting them in order, whatever order they arrive in."""

import pytest

from vigil.frames import Frame
from vigil.messages import DetectionResult
from vigil.stream.reassembly import Reassembler

ALGS = ("fall", "blink")
DEADLINE = 1.0


def frame(seq, session=1, camera="door"):
    return Frame(camera=camera, session=session, seq=seq, captured_at=100.0 + seq, width=4, height=4,
                 jpeg=b"\xff\xd8")


def result(seq, algorithm):
    return DetectionResult(camera="door", session=1, seq=seq, algorithm=algorithm, status="ok",
                           observation={"seq": seq})


def play(steps, deadline=DEADLINE):
    """Run a script of ("frame", seq, t) / ("result", seq, alg, t) / ("poll", t) steps.

    Returns the emitted frames as (seq, complete, {alg: observed seq}) in emission order.
    """
    reassembler = Reassembler(deadline)
    emitted = []
    for step in steps:
        kind, *args = step
        if kind == "frame":
            seq, t = args
            reassembler.add_frame(frame(seq), ALGS, t)
        elif kind == "result":
            seq, algorithm, t = args
            reassembler.add_result("door", 1, seq, algorithm, result(seq, algorithm), t)
        else:
            for joined in reassembler.pop_ready(args[0]):
                emitted.append((joined.seq, joined.complete,
                                {name: r.observation["seq"] for name, r in joined.results.items()}))
    return emitted, reassembler.counters


@pytest.mark.parametrize(
    "steps, expected",
    [
        pytest.param(
            [("frame", 0, 0), ("result", 0, "fall", 0.01), ("result", 0, "blink", 0.02), ("poll", 0.03)],
            [(0, True, {"fall": 0, "blink": 0})],
            id="in order",
        ),
        pytest.param(
            [("frame", 0, 0), ("frame", 1, 0.01), ("result", 1, "fall", 0.02), ("result", 1, "blink", 0.02),
             ("poll", 0.03), ("result", 0, "blink", 0.04), ("result", 0, "fall", 0.05), ("poll", 0.06)],
            [(0, True, {"fall": 0, "blink": 0}), (1, True, {"fall": 1, "blink": 1})],
            id="later frame completes first: waits, then both in order",
        ),
        pytest.param(
            [("result", 0, "fall", 0), ("result", 0, "blink", 0), ("frame", 0, 0.01), ("poll", 0.02)],
            [(0, True, {"fall": 0, "blink": 0})],
            id="results before their frame",
        ),
        pytest.param(
            [("frame", 0, 0), ("result", 0, "fall", 0.01), ("poll", 0.5), ("poll", 1.01)],
            [(0, False, {"fall": 0})],
            id="missing result: emitted incomplete at the deadline",
        ),
        pytest.param(
            [("frame", 0, 0), ("frame", 1, 0.01), ("result", 0, "fall", 0.02), ("result", 1, "fall", 0.03),
             ("result", 1, "blink", 0.03), ("poll", 0.1), ("poll", 0.26)],
            [(0, False, {"fall": 0}), (1, True, {"fall": 1, "blink": 1})],
            id="overtaken result (dropped by a bounded queue): no full deadline wait",
        ),
    ],
)
def test_reassembly(steps, expected):
    emitted, _ = play(steps)
    assert emitted == expected


def test_late_results_are_counted_and_dropped():
    emitted, counters = play([("frame", 0, 0), ("result", 0, "fall", 0), ("poll", 1.5),
                              ("result", 0, "blink", 1.6), ("poll", 1.7)])
    assert emitted == [(0, False, {"fall": 0})]
    assert counters.late_results == 1


def test_results_never_cross_frames():
    steps = [("frame", s, s * 0.01) for s in range(5)]
    steps += [("result", s, a, 0.1) for s in (4, 2, 0, 3, 1) for a in ALGS]
    emitted, _ = play(steps + [("poll", 0.2)])
    assert [e[0] for e in emitted] == [0, 1, 2, 3, 4]
    assert all(observed == {"fall": seq, "blink": seq} for seq, _, observed in emitted)


def test_new_session_resets_the_camera_and_old_session_is_ignored():
    reassembler = Reassembler(DEADLINE)
    reassembler.add_frame(frame(10, session=1), ALGS, 0)
    reassembler.add_frame(frame(0, session=2), ALGS, 0.1)
    assert not reassembler.add_result("door", 1, 10, "fall", result(10, "fall"), 0.2)
    for algorithm in ALGS:
        reassembler.add_result("door", 2, 0, algorithm, result(0, algorithm), 0.2)
    assert [(f.session, f.seq) for f in reassembler.pop_ready(0.3)] == [(2, 0)]


def test_cameras_are_independent():
    reassembler = Reassembler(DEADLINE)
    reassembler.add_frame(frame(0, camera="a"), ALGS, 0)
    reassembler.add_frame(frame(0, camera="b"), ("fall",), 0)
    reassembler.add_result("b", 1, 0, "fall", result(0, "fall"), 0.1)
    assert [(f.camera, f.complete) for f in reassembler.pop_ready(0.2)] == [("b", True)]


def test_a_frame_waits_only_for_the_algorithms_it_asked():
    # Per-algorithm rates: frame 0 asks fall and blink, frame 1 only blink, frame 2 nothing (motion gating)
    reassembler = Reassembler(DEADLINE)
    for seq, asked in ((0, ("fall", "blink")), (1, ("blink",)), (2, ())):
        reassembler.add_frame(frame(seq), asked, 0.0)
    reassembler.add_result("door", 1, 1, "blink", result(1, "blink"), 0.01)
    reassembler.add_result("door", 1, 1, "fall", result(1, "fall"), 0.01)  # not asked of frame 1: not joined
    reassembler.add_result("door", 1, 0, "blink", result(0, "blink"), 0.02)
    assert reassembler.pop_ready(0.03) == []  # frame 0 still waits for its fall result
    reassembler.add_result("door", 1, 0, "fall", result(0, "fall"), 0.04)
    ready = reassembler.pop_ready(0.05)
    assert [(f.seq, f.complete, sorted(f.results)) for f in ready] == [
        (0, True, ["blink", "fall"]), (1, True, ["blink"]), (2, True, []),
    ]
