"""What an event clip costs to encode: OpenCV's VideoWriter (Vigil before) against Vigil's writer.

    .venv/bin/python scripts/bench_clip.py [--source CLIP] [--frames 150] [--rounds 5]

Encodes the same frames of a real clip (default: 10 s of head_turning_640x360.mp4 at 15
frames/s, as a default event clip is) both ways, alternating round by round, and prints the
CPU seconds per clip (medians, min-max), the file sizes and the picture quality (PSNR of the
decoded clip against the frames it was made of). Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from vigil.stream.mediafiles import frames_in, write_clip

DEFAULT_SOURCE = Path(__file__).resolve().parents[1].parent / "shared/data/headpose/head_turning_640x360.mp4"
FPS = 15.0


def opencv_clip(path: Path, images: Sequence[np.ndarray], fps: float) -> None:
    """How Vigil wrote clips before: OpenCV's bundled FFmpeg, VP8 at libvpx's defaults."""
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"VP80"), fps, (width, height))
    for image in images:
        writer.write(image)
    writer.release()


def psnr(path: Path, images: Sequence[np.ndarray]) -> float:
    """Mean PSNR (dB) of the clip's decoded frames against ``images``."""
    capture = cv2.VideoCapture(str(path))
    values = []
    for image in images:
        ok, decoded = capture.read()
        if not ok:
            break
        values.append(cv2.PSNR(image, decoded))
    capture.release()
    return statistics.fmean(values)


def read_frames(source: Path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(source))
    images: list[np.ndarray] = []
    while len(images) < count:
        ok, image = capture.read()
        if not ok:
            break
        images.append(image)
    capture.release()
    if not images:
        sys.exit(f"no frame in {source}")
    return images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    images = read_frames(args.source, args.frames)
    writers: dict[str, Callable[[Path, Sequence[np.ndarray], float], None]] = {
        "OpenCV VideoWriter, libvpx defaults (before)": opencv_clip,
        "Vigil (PyAV, libvpx real-time, cpu-used 8)": write_clip,
    }
    cpu: dict[str, list[float]] = {name: [] for name in writers}
    sizes: dict[str, int] = {}
    quality: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            order = list(writers) if round_ % 2 == 0 else list(writers)[::-1]
            for name in order:
                path = Path(folder) / f"clip{len(sizes)}.webm"
                started = time.process_time()
                writers[name](path, images, FPS)
                cpu[name].append(time.process_time() - started)
                if frames_in(path) != len(images):
                    sys.exit(f"{name}: the clip does not hold {len(images)} frames")
                sizes[name] = os.path.getsize(path)
                quality[name] = psnr(path, images)
                path.unlink()
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    height, width = images[0].shape[:2]
    print(f"{len(images)} frames of {args.source.name} ({width}x{height}) at {FPS:g} frames/s, "
          f"{args.rounds} rounds alternated\n")
    print("| writer | CPU s per clip, median (min-max) | KiB | PSNR dB |")
    print("|---|---|---|---|")
    for name, values in cpu.items():
        print(f"| {name} | {statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f}) | "
              f"{sizes[name] / 1024:.0f} | {quality[name]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
