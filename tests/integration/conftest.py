"""Real RabbitMQ and Redis on loopback, and real Vigil processes.

URLs come from VIGIL_TEST_BROKER_URL / VIGIL_TEST_RESULT_BACKEND (loopback defaults;
results go to Redis db 15, flushed around each test). When a service is unreachable
the tests skip on a laptop and FAIL when CI=true.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from pathlib import Path

import pytest
import redis
import requests
from kombu import Connection

from vigil.bench.processes import BenchProcess

ROOT = Path(__file__).resolve().parents[2]
BROKER_URL = os.environ.get("VIGIL_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
RESULT_BACKEND = os.environ.get("VIGIL_TEST_RESULT_BACKEND", "redis://127.0.0.1:6379/15")
DATA_DIR = Path(os.environ.get("VIGIL_DATA_DIR", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() == "true"
ALGORITHM_QUEUES = ("fall", "emotion", "pose", "blink")
BIN = Path(sys.executable).parent


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service fails the run)", pytrace=False)
    pytest.skip(f"{reason}; start it to run the integration tests")


@pytest.fixture(scope="session")
def services() -> None:
    try:
        with Connection(BROKER_URL, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        unavailable(f"RabbitMQ unreachable at {BROKER_URL}: {exc}")
    try:
        redis.Redis.from_url(RESULT_BACKEND, socket_connect_timeout=3).ping()
    except Exception as exc:
        unavailable(f"Redis unreachable at {RESULT_BACKEND}: {exc}")


def delete_queues() -> None:
    with Connection(BROKER_URL) as connection:
        channel = connection.default_channel
        for name in ALGORITHM_QUEUES:
            channel.queue_delete(name)


@pytest.fixture
def clean(services) -> None:
    """Purge our queues and the test Redis db before and after a test."""
    client = redis.Redis.from_url(RESULT_BACKEND)
    delete_queues()
    client.flushdb()
    yield
    delete_queues()
    client.flushdb()


@pytest.fixture
def vigil_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_") or k.startswith("VIGIL_TEST_")}
    env.update(
        VIGIL_BROKER_URL=BROKER_URL,
        VIGIL_RESULT_BACKEND=RESULT_BACKEND,
        VIGIL_DETECTOR_OVERRIDE="null",  # the pipeline's tests must not depend on detector accuracy
        VIGIL_EVENTS_DB=str(tmp_path / "events.sqlite3"),
        PYTHONUNBUFFERED="1",
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def spawn(tmp_path):
    started: list[BenchProcess] = []

    def start(args: list[str], env: dict[str, str], name: str) -> BenchProcess:
        process = BenchProcess(name, args, env, tmp_path)
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        process.stop()


def vigil(*args: str) -> list[str]:
    return [str(BIN / "vigil"), *args]


def celery(*args: str) -> list[str]:
    return [str(BIN / "celery"), "-A", "vigil", *args]


@pytest.fixture
def worker(clean, spawn, vigil_env) -> BenchProcess:
    process = spawn(
        celery("worker", "-Q", ",".join(ALGORITHM_QUEUES), "-P", "threads", "-c", "2", "-l", "INFO",
               "--without-mingle", "--without-gossip", "-n", f"itest-{os.getpid()}@%h"),
        vigil_env, "worker",
    )
    process.wait_for("ready.", 60)
    return process


@pytest.fixture
def streamer(clean, spawn, vigil_env) -> tuple[BenchProcess, str]:
    port = free_port()
    process = spawn(vigil("stream", "--port", str(port)), vigil_env, "streamer")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        time.sleep(0.2)
    raise AssertionError(f"streamer not healthy:\n{process.output()}")


@pytest.fixture
def clip() -> Path:
    path = DATA_DIR / "headpose" / "head_stationary_640x360.mp4"
    if not path.exists():
        unavailable(f"test footage missing: {path} (set VIGIL_DATA_DIR)")
    return path
