"""Accuracy and speed of the four detectors and their rules on labelled footage.

``run_evaluation(data_dir)`` runs every detector and its event rule over the clips that
``labels.json`` labels for it (format: ``docs/labels.md``), scores them against the targets
of issues 3 and 10, and returns a markdown report (written to ``docs/accuracy.md`` by
``scripts/evaluate.py`` and ``vigil evaluate``). Rules are fed frame timestamps from the
clip's frame rate, so they run exactly as the streamer runs them.

One module per concern: ``labels`` (reading labels.json), ``runs`` (running clips,
``Evaluation``, ``collect``), one scoring module per algorithm (``falls``, ``blinks``,
``headpose``, ``emotions``), ``speed`` and ``report``.
"""

from __future__ import annotations

import datetime
import logging
import sys
from pathlib import Path
from typing import Any

from vigil.evaluation.runs import ClipRun, Evaluation, collect, read_frames, run_clip

__all__ = ["ClipRun", "Evaluation", "collect", "read_frames", "render", "run_clip", "run_evaluation"]

log = logging.getLogger(__name__)


def run_evaluation(data_dir: Path, output: Path | None = None, command: str | None = None) -> str:
    """Evaluate all four detectors on ``data_dir``; return the markdown report.

    Args:
        data_dir: folder with ``labels.json`` and the clips it names.
        output: where to write the report (with the command and the date), if given.
        command: the command line to record; defaults to this process's ``argv``.

    Returns:
        The report's markdown text.
    """
    evaluation = Evaluation(Path(data_dir))
    results = collect(evaluation)
    report = render(results, command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), Path(data_dir))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report)
        log.info("wrote %s", output)
    return report


def render(results: dict[str, Any], command: str, data_dir: Path) -> str:
    """The markdown report for results gathered on ``data_dir``."""
    from vigil.evaluation.report import render_report

    return render_report(results, command, datetime.date.today().isoformat(), str(data_dir))
