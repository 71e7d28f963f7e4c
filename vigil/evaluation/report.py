"""Markdown rendering of :mod:`vigil.evaluation` results: header, falls, speed, empty frames.

The face algorithms' sections are in :mod:`vigil.evaluation.report_faces`.
"""

from __future__ import annotations

from typing import Any

from vigil.evaluation.falls import FALL_WINDOW_S, FallCall, FallClip
from vigil.evaluation.report_faces import blink_section, emotion_section, ok, pose_section

TARGET_MS = 40.0
NO_TRACK = "-"


def render_report(results: dict[str, Any], command: str, date: str, data_dir: str) -> str:
    """The report: one section per algorithm, then speed, then the frames without anyone."""
    lines = [
        "# Detector accuracy",
        "",
        f"Produced on {date} by `{command}` on `{data_dir}` (labels.json there; its format: [labels.md](labels.md)).",
        "Rules run on frame timestamps from each clip's frame rate, as the streamer runs them.",
        "Why the missed targets are missed: [detectors.md, Known limits](detectors.md#known-limits).",
        "",
    ]
    if results.get("unscored"):
        names = ", ".join(f"`{name}`" for name in results["unscored"])
        lines += [f"Not scored, neither a video nor a still by its suffix: {names}.", ""]
    lines += fall_section(results["fall"]) + blink_section(results["blink"]) + pose_section(results["pose"])
    lines += emotion_section(results["emotion"]) + speed_section(results["timing"])
    lines += silence_section(results["no_face"])
    return "\n".join(lines) + "\n"


def _track(call: FallCall) -> str:
    return NO_TRACK if call.track is None else call.track


def fall_row(clip: FallClip) -> str:
    """One clip: each labelled fall (found, delay, track), then its false alarms."""
    if clip.falls:
        found = "; ".join(
            f"onset {f.onset}: missed" if f.call is None
            else f"onset {f.onset}: event at {f.call.detected_seq} (+{f.delay_s:.2f} s), track {_track(f.call)}"
            for f in clip.falls
        )  # fmt: skip
    else:
        found = "-"
    alarms = ", ".join(f"{a.seq} (track {_track(a)})" for a in clip.false_alarms) or "0"
    passed = clip.found == len(clip.falls) and not clip.false_alarms
    kind = "fall" if clip.positive else ("negative" if clip.clip.startswith("negative/") else "other")
    return f"| {clip.clip} | {kind} | {clip.found} / {len(clip.falls)} | {found} | {alarms} | {ok(passed)} |"


def fall_section(fall: dict[str, Any]) -> list[str]:
    alarms = sum(len(v) for v in fall["false_alarms"].values())
    return [
        "## Fall",
        "",
        f"A labelled fall is found when a `fall` event reports an onset within {FALL_WINDOW_S:.0f} s of the",
        f"labelled onset and is raised within {FALL_WINDOW_S:.0f} s after it (delay = raised - labelled onset).",
        "Every other `fall` event is a false alarm: on the hard negatives under `negative/` and on every clip",
        "that is not about falls. Track: the person the rule followed (`-` when the rule names none).",
        "",
        "| clip | kind | found | labelled falls | false alarms (onset frame) | |",
        "|---|---|---|---|---|---|",
        *(fall_row(clip) for clip in fall["per_clip"]),
        "",
        "| measure | result | target | |",
        "|---|---|---|---|",
        (
            f"| falls found within {FALL_WINDOW_S:.0f} s of the labelled onset | {fall['found']} / {fall['falls']} "
            f"| all | {ok(fall['found'] == fall['falls'])} |"
        ),
        f"| false alarms, all clips | {alarms} | 0 | {ok(alarms == 0)} |",
        "",
    ]


def speed_section(timing: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "## Speed",
        "",
        "Median CPU time (process time, 30 runs) of `detect()` on one real frame resized to 640x480, one thread.",
        "",
        "| detector | ms / frame | frame | target | |",
        "|---|---|---|---|---|",
    ]
    for name, row in timing.items():
        ms = float(row["ms"])
        lines.append(
            f"| {name} | {ms:.1f} | {row['clip']} #{row['frame']} | <= {TARGET_MS:.0f} | {ok(ms <= TARGET_MS)} |"
        )
    if not timing:
        lines.append("| (no labelled clip to time on) | | | | |")
    return lines + [""]


def silence_section(no_face: dict[str, dict[str, int]]) -> list[str]:
    lines = ["## Frames without anyone", ""]
    if not no_face:
        return lines + ["No clip has `no_person` labels.", ""]
    lines += [
        "Frames labelled `no_person`. For fall, detections are person candidates (score >= 0.3);",
        "confident = score >= 0.5, what the rule needs to start following someone.",
        "",
        "| detector on clip | frames | with a face/person | confident | events | |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in no_face.items():
        silent = row["frames_with_detections"] == 0 and row["events"] == 0
        lines.append(
            f"| {name} | {row['frames']} | {row['frames_with_detections']} | {row['frames_with_confident']} "
            f"| {row['events']} | {ok(silent)} |"
        )
    return lines + [""]
