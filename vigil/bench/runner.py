"""Running the chosen scenarios and writing the tables, JSON and Markdown."""

from __future__ import annotations

import datetime
import json
import logging
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

from vigil.bench.options import Options
from vigil.bench.report import markdown_table, text_table
from vigil.bench.scenarios import SCENARIOS

log = logging.getLogger(__name__)


def machine() -> str:
    import psutil

    return (f"{platform.node()}: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
            f"{platform.platform()}, Python {platform.python_version()}")


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    names = ("celery", "kombu", "amqp", "redis", "opencv-python-headless", "numpy", "msgpack", "pika")
    parts = []
    for name in names:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} ?")
    return ", ".join(parts)


def run_benchmark(options: Options, scenarios: list[str], json_path: Path | None,
                  markdown_path: Path | None) -> dict[str, Any]:
    started = datetime.datetime.now(datetime.UTC)
    results: dict[str, Any] = {}
    for name in scenarios:
        options.progress(f"== scenario {name}")
        outcome = SCENARIOS[name](options)
        results[name] = outcome
        for title, headers, rows in outcome["tables"]:
            print("\n" + text_table(title, headers, rows), flush=True)
    args = sys.argv[sys.argv.index("bench") + 1:] if "bench" in sys.argv else sys.argv[1:]
    command = "vigil bench " + " ".join(shlex.quote(arg) for arg in args)
    meta = {"command": command, "started": started.isoformat(timespec="seconds"), "machine": machine(),
            "versions": versions(), "repeat": options.repeat, "duration": options.duration,
            "source": options.source}
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"meta": meta, "results": {k: v["data"] for k, v in results.items()}},
                                        indent=1, default=str))
    if markdown_path:
        markdown_path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"- command: `{meta['command']}`", f"- date: {meta['started']}", f"- machine: {meta['machine']}",
                 f"- software: {meta['versions']}", f"- repetitions: {options.repeat} (median, min-max in brackets)",
                 ""]
        for outcome in results.values():
            for title, headers, rows in outcome["tables"]:
                lines.append(markdown_table(title, headers, rows))
        markdown_path.write_text("\n".join(lines))
    return results
