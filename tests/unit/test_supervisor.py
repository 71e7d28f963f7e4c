"""The per-camera supervisor with real child processes (plain Python, no broker)."""

from __future__ import annotations

import io
import sys
import threading

from vigil.backoff import Backoff
from vigil.capture.supervisor import Supervisor


def child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def fast_backoff() -> Backoff:
    return Backoff(base=0.05, cap=0.1)


def test_prefixes_lines_restarts_a_crash_and_leaves_clean_and_config_exits_alone(tmp_path):
    marker = tmp_path / "crashed-once"
    commands = {
        # crashes the first time, then ends cleanly: restarted once
        "door": child(f"import pathlib, sys; p = pathlib.Path({str(marker)!r}); print('hello');"
                      "sys.exit(0) if p.exists() else (p.touch(), sys.exit(3))"),
        "hall": child("print('done'); raise SystemExit(0)"),  # a file that ended: not restarted
        "yard": child("raise SystemExit(78)"),  # a configuration error: restarting cannot help
    }
    output = io.StringIO()
    supervisor = Supervisor(commands, output, backoff=fast_backoff)
    codes = supervisor.run(threading.Event())
    assert codes == {"door": 0, "hall": 0, "yard": 78}
    assert supervisor.children["door"].restarts == 1
    assert supervisor.children["hall"].restarts == supervisor.children["yard"].restarts == 0
    lines = output.getvalue().splitlines()
    assert lines.count("[door] hello") == 2 and "[hall] done" in lines


def test_stop_terminates_and_reaps_every_child():
    commands = {name: child("import time; print('up', flush=True); time.sleep(60)") for name in ("a", "b")}
    output = io.StringIO()
    supervisor = Supervisor(commands, output, backoff=fast_backoff)
    stop = threading.Event()
    runner = threading.Thread(target=lambda: supervisor.run(stop))
    runner.start()
    while output.getvalue().count("up") < 2:
        runner.join(0.05)
    processes = [c.process for c in supervisor.children.values()]
    stop.set()
    runner.join(15)
    assert not runner.is_alive()
    assert all(p is not None and p.returncode is not None for p in processes)  # reaped (SIGTERM: -15)
