"""Markdown rendering of :mod:`vigil.evaluation` results, with the targets of issue 3."""

from __future__ import annotations

from typing import Any

TARGET_MS = 40.0
# Eye closures (frame ranges) that match no labelled blink but were checked by eye on the footage
# and found to be real blinks the labels leave out (labels.json is read-only here). Events there
# still count as false in the measured precision; the report only says what the check found.
REVIEWED_UNLABELLED_BLINKS: dict[str, tuple[tuple[int, int], ...]] = {
    "headpose/head_nodding_640x360.mp4": ((60, 62), (71, 73)),
}
REVIEW_NOTE = (
    "Checked by eye (eye crops enlarged 5x, 2026-11-27): on {clip}, the blink events at frames "
    "{events} are real blinks that labels.json does not list (eyes shut in frames {closures}): the "
    "eyes are open with the iris visible two frames before, the lids are shut with no iris or sclera "
    "showing in the middle frame, and open again two frames after (about 0.1 s, a normal blink; the "
    "head is not pitched down there). Counted as blinks, precision would be {precision:.2f}; the "
    "table above measures against labels.json as it stands."
)


def _ok(passed: bool) -> str:
    return "met" if passed else "**missed**"


def render_report(results: dict[str, Any], command: str, date: str) -> str:
    """The report: one section per algorithm, then speed, then the no-face clip."""
    lines = [
        "# Detector accuracy",
        "",
        f"Produced on {date} by `{command}` on `../shared/data` (see its MANIFEST.md and labels.json).",
        "Rules run on frame timestamps from each clip's frame rate, as the streamer runs them.",
        "Why the missed targets are missed: [detectors.md, Known limits](detectors.md#known-limits).",
        "",
    ]
    lines += _fall(results["fall"]) + _blink(results["blink"]) + _pose(results["pose"])
    lines += _emotion(results["emotion"]) + _speed(results["timing"]) + _silence(results["no_face"])
    return "\n".join(lines) + "\n"


def _fall(fall: dict[str, Any]) -> list[str]:
    alarms = sum(len(v) for v in fall["false_alarms"].values())
    delays = ", ".join(f"{d:.2f} s" for d in fall["delays_s"]) or "-"
    return [
        "## Fall",
        "",
        "| measure | result | target | |",
        "|---|---|---|---|",
        (
            f"| falls detected within {2:.0f} s of the labelled onset | {fall['found']} / {fall['falls']} "
            f"(event raised {delays} after onset) | all | {_ok(fall['found'] == fall['falls'])} |"
        ),
        (
            f"| false alarms, all clips (sitting, stationary, no-face, expressions...) | {alarms} "
            f"{fall['false_alarms'] or ''} | 0 | {_ok(alarms == 0)} |"
        ),
        "",
    ]


def _blink(blink: dict[str, Any]) -> list[str]:
    lines = [
        "## Blink",
        "",
        "Tolerance +-3 frames; partial blinks marked optional in labels.json count neither way.",
        "",
        "| clip | labelled blinks | found | blink events | false | long closures | reported as one closure |",
        "|---|---|---|---|---|---|---|",
    ]
    for clip, row in blink["per_clip"].items():
        frames = ", ".join(_frames(e) for e in row["false_events"])
        false = f"{row['false']} ({frames})" if frames else str(row["false"])
        lines.append(
            f"| {clip} | {row['blinks']} | {row['found']} | {row['predicted']} | {false} "
            f"| {row['closures']} | {row['closures_ok']} |"
        )
    closures_ok = blink["closures_ok"] == blink["closures"]
    lines += [
        "",
        "| measure | result | target | |",
        "|---|---|---|---|",
        f"| precision | {blink['precision']:.2f} | >= 0.90 | {_ok(blink['precision'] >= 0.9)} |",
        f"| recall | {blink['recall']:.2f} | >= 0.90 | {_ok(blink['recall'] >= 0.9)} |",
        (
            f"| long closures reported once as `eyes_closed`, no blink inside | {blink['closures_ok']} / "
            f"{blink['closures']} | all | {_ok(closures_ok)} |"
        ),
        f"| `eyes_closed` outside labelled long closures | {blink['stray_closed']} | - | |",
        "",
    ]
    return lines + _blink_review(blink)


def _blink_review(blink: dict[str, Any]) -> list[str]:
    """What the by-eye check found about the "false" blinks still reported, if any."""
    per_clip = blink["per_clip"].items()
    found = {clip: [e for e in row["false_events"] if _within_reviewed(clip, e)] for clip, row in per_clip}
    found = {clip: events for clip, events in found.items() if events}
    if not found:
        return []
    predicted = blink["tp_pred"] + blink["fp"]
    real = blink["tp_pred"] + sum(len(events) for events in found.values())
    notes = [
        REVIEW_NOTE.format(
            clip=clip,
            events=", ".join(_frames(e) for e in events),
            closures=", ".join(_frames(r) for r in REVIEWED_UNLABELLED_BLINKS[clip]),
            precision=real / predicted,
        )
        for clip, events in found.items()
    ]
    return notes + [""]


def _within_reviewed(clip: str, event: tuple[int, int]) -> bool:
    """Whether a blink event lies inside a closure the by-eye check found to be a real blink."""
    return any(a <= event[0] and event[1] <= b for a, b in REVIEWED_UNLABELLED_BLINKS.get(clip, ()))


def _frames(event: tuple[int, int]) -> str:
    return str(event[0]) if event[0] == event[1] else f"{event[0]}-{event[1]}"


def _pose(pose: dict[str, Any]) -> list[str]:
    rows = pose["rows"]
    lines = [
        "## Head pose",
        "",
        "Per-frame detector angles (the rule only smooths them) at the labelled extremes (labels +-5 deg).",
        "",
        "| angle | clip | extremes | sign right | MAE | target | |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("yaw", "pitch"):
        if name in rows:
            r = rows[name]
            passed = r["sign"] >= 0.9 and r["mae"] <= 8
            lines.append(
                f"| {name} | {r['clip']} | {r['n']} | {r['sign']:.0%} | {r['mae']:.1f} deg "
                f"| sign >= 90%, MAE <= 8 | {_ok(passed)} |"
            )
    lines += [
        "",
        (
            f"Flips (frame-to-frame jumps > 45 deg in any angle, all pose clips): {pose['flips']} "
            f"(target 0: {_ok(pose['flips'] == 0)})."
        ),
        "",
    ]
    if "stationary" in rows:
        s = rows["stationary"]
        lines += [
            (
                f"Stationary clip ({s['clip']}, labelled yaw {s['yaw_label']}, pitch {s['pitch_label']}): "
                f"median yaw {s['yaw_median']:.1f}, pitch {s['pitch_median']:.1f}; standard deviation yaw "
                f"{s['yaw_sd']:.1f}, pitch {s['pitch_sd']:.1f} deg; 5-95% spread yaw {s['yaw_spread']:.1f}, "
                f"pitch {s['pitch_spread']:.1f} deg; rule events: {s['events']}."
            ),
            "",
        ]
    return lines


def _emotion(emotion: dict[str, Any]) -> list[str]:
    lines = [
        "## Emotion",
        "",
        "Share of frames whose smoothed label (the rule's) is the labelled expression; raw = per-frame detector.",
        "",
        "| clip | label | frames | smoothed | raw | most common | target | |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for seg in emotion["segments"]:
        first, last = seg["range"]
        if seg["label"] == "happy":
            target, passed = ">= 90%", seg["share"] >= 0.9
        elif seg["label"] in ("sad", "angry"):
            target, passed = "most frames", seg["share"] > 0.5
        else:
            target, passed = "-", True
        top = ", ".join(f"{k} {v}" for k, v in seg["top"])
        lines.append(
            f"| {seg['clip']} | {seg['label']} | {first}-{last} | {seg['share']:.0%} | {seg['raw_share']:.0%} "
            f"| {top} | {target} | {_ok(passed) if target != '-' else ''} |"
        )
    names = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "none"]
    lines += [
        "",
        "Confusion (rows: labelled, columns: smoothed label, frames):",
        "",
        "| labelled | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for label, counts in emotion["confusion"].items():
        lines.append(f"| {label} | " + " | ".join(str(counts.get(n, 0)) for n in names) + " |")
    lines += [
        "",
        "Stills (single image, raw label): "
        + ", ".join(
            f"{name.split('/')[-1]} labelled {truth} -> {got}"
            for name, (truth, got) in emotion["stills"].items()
        )
        + ".",
        "",
    ]
    return lines


def _speed(timing: dict[str, float]) -> list[str]:
    lines = [
        "## Speed",
        "",
        "Median CPU time (process time, 30 runs) of `detect()` on one real 640x480 frame, one thread.",
        "",
        "| detector | ms / frame | target | |",
        "|---|---|---|---|",
    ]
    for name, ms in timing.items():
        lines.append(f"| {name} | {ms:.1f} | <= {TARGET_MS:.0f} | {_ok(ms <= TARGET_MS)} |")
    return lines + [""]


def _silence(no_face: dict[str, dict[str, int]]) -> list[str]:
    lines = [
        "## No-face clip",
        "",
        "For fall, detections are person candidates (score >= 0.3); confident = score >= 0.5, what",
        "the rule needs to start following someone.",
        "",
        "| detector on clip | frames with a face/person | confident | events | |",
        "|---|---|---|---|---|",
    ]
    for name, row in no_face.items():
        silent = row["frames_with_detections"] == 0 and row["events"] == 0
        lines.append(
            f"| {name} | {row['frames_with_detections']} | {row['frames_with_confident']} "
            f"| {row['events']} | {_ok(silent)} |"
        )
    return lines + [""]
