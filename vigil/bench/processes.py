"""Starting, watching and stopping the benchmark's processes, with their CPU time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

BIN = Path(sys.executable).parent


class BenchProcess:
    """A child process with its log in a file and its CPU time (children included).

    The benchmark and the integration tests run Vigil's real processes through it.
    """

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.args = args
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd)
        self._cpu_start = 0.0

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not print {text!r}; see {self.log_path}:\n{self.output()[-2000:]}")

    def cpu_seconds(self) -> float:
        try:
            process = psutil.Process(self.popen.pid)
            total = sum(process.cpu_times()[:2])
            for child in process.children(recursive=True):
                try:
                    total += sum(child.cpu_times()[:2])
                except psutil.NoSuchProcess:
                    pass
            return total
        except psutil.NoSuchProcess:
            return float("nan")

    def mark(self) -> None:
        """Start of the measured window for :meth:`cpu_share`."""
        self._cpu_start = self.cpu_seconds()

    def cpu_share(self, seconds: float) -> float:
        """Share of one core used since :meth:`mark` over ``seconds`` of wall time."""
        return (self.cpu_seconds() - self._cpu_start) / seconds

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{self.name} still running after {timeout} s; see {self.log_path}:\n"
                               f"{self.output()[-2000:]}") from None

    def stop(self, timeout: float = 20) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode


def bench_env(broker_url: str, result_backend: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(VIGIL_BROKER_URL=broker_url, VIGIL_RESULT_BACKEND=result_backend, PYTHONUNBUFFERED="1",
               VIGIL_LOG_LEVEL="WARNING")
    env.update({f"VIGIL_{key.upper()}": str(value) for key, value in settings.items()})
    return env


def bin_dir(python: str | None = None) -> Path:
    """The folder of the console scripts (``vigil``, ``celery``) that go with ``python``.

    Args:
        python: the interpreter of a virtual environment (another Vigil checkout's
            ``.venv/bin/python``, not resolved: a venv's python is a symlink); None: this one.
    """
    return Path(python).parent if python else BIN


def vigil_command(*args: str, python: str | None = None) -> list[str]:
    return [str(bin_dir(python) / "vigil"), *args]


def celery_command(app: str, *args: str, python: str | None = None) -> list[str]:
    return [str(bin_dir(python) / "celery"), "-A", app, *args]


def python_command(*args: str) -> list[str]:
    return [sys.executable, *args]
