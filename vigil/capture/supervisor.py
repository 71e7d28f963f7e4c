"""``vigil capture --config``: one supervised child process per camera of the site file.

Each camera runs as its own ``vigil capture --config FILE --camera NAME`` process, so a
camera whose driver hangs or crashes takes no other camera with it. The supervisor:

- prefixes every line a child prints with ``[camera]`` and passes it on;
- restarts a child that dies (any exit but 0 and 78) after a backoff (:mod:`vigil.backoff`),
  reset once a child has run ``STABLE_S`` seconds;
- leaves a child that ended cleanly (a file that was not looped: exit 0) or refused its
  configuration (exit 78: restarting cannot help) stopped;
- on ``stop`` (SIGTERM or SIGINT in the command), sends SIGTERM to every child, waits up to
  ``TERM_TIMEOUT`` for each, kills what is left, and reaps them all.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO

from vigil.backoff import Backoff

log = logging.getLogger(__name__)

EX_CONFIG = 78
STABLE_S = 30.0
TERM_TIMEOUT = 10.0
POLL_S = 0.2


@dataclasses.dataclass
class _Child:
    name: str
    command: list[str]
    backoff: Backoff
    process: subprocess.Popen[str] | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    restarts: int = 0
    exit_code: int | None = None  # set once the camera is done for good
    pump: threading.Thread | None = None


class Supervisor:
    """Runs and watches one child process per camera.

    Args:
        commands: per camera, the command line of its child.
        output: where the children's prefixed lines go.
        env: the children's environment (this process's by default).
        backoff: a fresh backoff per camera (``Backoff(base=1, cap=30)`` by default).
    """

    def __init__(self, commands: Mapping[str, Sequence[str]], output: IO[str], *,
                 env: Mapping[str, str] | None = None,
                 backoff: Callable[[], Backoff] = lambda: Backoff(base=1.0, cap=30.0)) -> None:
        self.children = {name: _Child(name, list(command), backoff()) for name, command in commands.items()}
        self.output = output
        self.env = dict(env) if env is not None else None
        self._output_lock = threading.Lock()

    def run(self, stop: threading.Event) -> dict[str, int]:
        """Supervise until every camera is done or ``stop`` is set; returns each camera's exit code."""
        try:
            while not stop.is_set() and any(child.exit_code is None for child in self.children.values()):
                now = time.monotonic()
                for child in self.children.values():
                    self._tend(child, now, stop)
                stop.wait(POLL_S)
        finally:
            self._stop_all()
        return {name: child.exit_code if child.exit_code is not None else 0 for name, child in self.children.items()}

    def _tend(self, child: _Child, now: float, stop: threading.Event) -> None:
        if child.exit_code is not None:
            return
        if child.process is None:
            if now >= child.restart_at:
                self._start(child)
            return
        code = child.process.poll()
        if code is None:
            return
        self._reap(child)
        if code in (0, EX_CONFIG) or stop.is_set():
            log.info("camera %s: exited with %d", child.name, code)
            child.exit_code = code
            return
        if now - child.started_at >= STABLE_S:
            child.backoff.reset()
        delay = child.backoff.next()
        child.restart_at, child.restarts = now + delay, child.restarts + 1
        log.warning("camera %s: capture process exited with %d; restarting in %.1f s (restart %d)",
                    child.name, code, delay, child.restarts)

    def _start(self, child: _Child) -> None:
        child.process = subprocess.Popen(
            child.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, bufsize=1, env=self.env,
        )
        child.started_at = time.monotonic()
        child.pump = threading.Thread(target=self._pump, args=(child.name, child.process), daemon=True,
                                      name=f"log-{child.name}")
        child.pump.start()
        log.info("camera %s: capture process %d started", child.name, child.process.pid)

    def _pump(self, name: str, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._output_lock:
                self.output.write(f"[{name}] {line}")
                self.output.flush()

    def _reap(self, child: _Child) -> None:
        if child.process is not None:
            child.process.wait()
            if child.pump is not None:
                child.pump.join(timeout=5)
        child.process = None

    def _stop_all(self) -> None:
        running = [child for child in self.children.values() if child.process is not None]
        for child in running:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + TERM_TIMEOUT
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("camera %s: capture process %d did not stop in %.0f s; killing it",
                            child.name, child.process.pid, TERM_TIMEOUT)
                child.process.kill()
            code = child.process.wait()
            if child.exit_code is None:
                child.exit_code = code if code >= 0 else 0  # stopped by us: not a failure
            self._reap(child)
