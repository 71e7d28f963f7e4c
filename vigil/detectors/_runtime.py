"""Loading the shipped TensorFlow Lite models and running them with LiteRT.

Every model Vigil uses ships inside the package, in ``vigil/detectors/models/``, so a
worker never touches the network (``scripts/build_models.py`` rebuilds them from their
registry sources). LiteRT (``ai-edge-litert``) runs the MediaPipe and FER ``.tflite``
files without MediaPipe itself, whose last release with these models pins numpy<2.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

import numpy as np

from vigil.errors import DetectorError

MODELS_PACKAGE = "vigil.detectors"
MODELS_DIR = "models"
# One thread a model: a worker process is one slot, and Celery scales with processes.
DEFAULT_THREADS = 1


def model_path(filename: str) -> Path:
    """Return the path of a shipped model file.

    Raises:
        DetectorError: the file is not in the installed package.
    """
    path = Path(str(resources.files(MODELS_PACKAGE).joinpath(MODELS_DIR, filename)))
    if not path.is_file():
        raise DetectorError(
            f"model file {filename!r} is missing from {path.parent}; "
            "reinstall vigil or run scripts/build_models.py"
        )
    return path


class TFLiteModel:
    """One ``.tflite`` model with float32 inputs, ready to run on one thread."""

    def __init__(self, filename: str, threads: int = DEFAULT_THREADS) -> None:
        path = model_path(filename)
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise DetectorError("the real detectors need LiteRT: pip install 'vigil[detectors]'") from exc
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise DetectorError(f"cannot load model {filename!r}: {exc}") from exc
        self.filename = filename
        detail = self._interpreter.get_input_details()[0]
        self._input_index = int(detail["index"])
        self.input_shape = tuple(int(n) for n in detail["shape"])
        # Output order in the file is not always the order we want: address by name.
        details = self._interpreter.get_output_details()
        self._outputs = {d["name"]: int(d["index"]) for d in details}
        self.output_sizes = {d["name"]: int(np.prod(d["shape"])) for d in details}
        # An interpreter holds its tensors in place: a worker running several threads
        # shares one detector, so one call at a time per model.
        self._lock = threading.Lock()

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the image the model takes."""
        return self.input_shape[2], self.input_shape[1]

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Run the model on one input tensor of ``input_shape``; return outputs by name."""
        with self._lock:
            self._interpreter.set_tensor(self._input_index, tensor.astype(np.float32, copy=False))
            self._interpreter.invoke()
            # get_tensor copies, so the results stay valid after the lock is released.
            return {name: self._interpreter.get_tensor(index) for name, index in self._outputs.items()}
