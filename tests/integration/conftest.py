"""Real RabbitMQ and Redis on loopback, and real Vigil processes.

URLs come from VIGIL_TEST_BROKER_URL / VIGIL_TEST_RESULT_BACKEND (loopback defaults;
results go to Redis db 15, flushed around each test). When a service is unreachable
the tests skip on a laptop and FAIL when CI=true.

Those servers are the developer's: tests only use them as a client. A test that stops,
restarts or kills a server uses ``private_env`` instead: a RabbitMQ node and a Redis of its
own (tests/integration/servers.py), started once per session on free ports when the first
such test asks for them, and stopped at the end.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from kombu import Connection

from tests.integration.servers import (
    Pki,
    PrivateRabbitMQ,
    PrivateRedis,
    ServerNotInstalled,
    ServerUnavailable,
    free_port,
    make_test_pki,
)
from vigil.bench.processes import BenchProcess

log = logging.getLogger(__name__)

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
    warnings.warn(f"SKIPPED: {reason}", pytest.PytestWarning, stacklevel=2)  # listed in the warnings summary
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


def clean_servers(broker_url: str, result_backend: str) -> None:
    """Delete our queues and flush the test Redis db."""
    with Connection(broker_url) as connection:
        channel = connection.default_channel
        for name in ALGORITHM_QUEUES:
            channel.queue_delete(name)
    client = redis.Redis.from_url(result_backend)
    try:
        client.flushdb()
    finally:
        client.close()


@pytest.fixture
def clean(services) -> Iterator[None]:
    """Purge our queues and the test Redis db before and after a test."""
    clean_servers(BROKER_URL, RESULT_BACKEND)
    yield
    clean_servers(BROKER_URL, RESULT_BACKEND)


@pytest.fixture(scope="session")
def private_rabbitmq() -> Iterator[PrivateRabbitMQ]:
    """A RabbitMQ node of our own that a test may stop and restart (``node.ctl("stop_app")``).

    Not installed: skip (fail with CI=true). Installed but it does not start: fail.
    """
    try:
        node = PrivateRabbitMQ()
    except ServerNotInstalled as exc:
        unavailable(str(exc))
    try:
        node.start()
    except ServerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    log.info("private RabbitMQ node %s on port %d started in %.1f s", node.node, node.port, node.startup_seconds)
    yield node
    node.stop()


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis of our own that a test may stop, flush or kill."""
    server = PrivateRedis()
    try:
        server.start()
    except ServerNotInstalled as exc:
        server.stop()
        unavailable(str(exc))
    except ServerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def private_env(vigil_env, private_rabbitmq, private_redis) -> Iterator[dict[str, str]]:
    """``vigil_env`` pointed at the private servers, cleaned before and after the test."""
    result_backend = private_redis.url
    clean_servers(private_rabbitmq.url, result_backend)
    yield dict(vigil_env, VIGIL_BROKER_URL=private_rabbitmq.url, VIGIL_RESULT_BACKEND=result_backend)
    clean_servers(private_rabbitmq.url, result_backend)


@pytest.fixture
def vigil_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_") or k.startswith("VIGIL_TEST_")}
    env.update(
        VIGIL_BROKER_URL=BROKER_URL,
        VIGIL_RESULT_BACKEND=RESULT_BACKEND,
        VIGIL_DETECTOR_OVERRIDE="null",  # the pipeline's tests must not depend on detector accuracy
        VIGIL_EVENTS_URL=str(tmp_path / "events.sqlite3"),
        VIGIL_MEDIA_DIR=str(tmp_path / "media"),
        PYTHONUNBUFFERED="1",
    )
    return env


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


def start_worker(spawn, env: dict[str, str]) -> BenchProcess:
    """A worker on all four queues, returned once it is ready."""
    process = spawn(
        celery("worker", "-Q", ",".join(ALGORITHM_QUEUES), "-P", "threads", "-c", "2", "-l", "INFO",
               "--without-mingle", "--without-gossip", "-n", f"itest-{os.getpid()}@%h"),
        env, "worker",
    )
    process.wait_for("ready.", 60)
    return process


def healthz(url: str, timeout: float = 2) -> tuple[int, dict]:
    """(status, body) of a streamer's ``/healthz``: 200 ok, or 503 with the reasons."""
    response = requests.get(f"{url}/healthz", timeout=timeout)
    assert response.status_code in (200, 503), response.text
    return response.status_code, response.json()


def inputs_connected(url: str) -> bool:
    """The streamer serves HTTP and both its inputs (feed, results) are connected.

    Not "healthy": a streamer with no worker yet is rightly degraded (no consumer on the queues).
    """
    with contextlib.suppress(requests.RequestException):
        _, body = healthz(url, timeout=1)
        return all(body["checks"]["inputs"].values())
    return False


def start_pool_worker(spawn, env: dict[str, str], name: str) -> BenchProcess:
    """A prefork worker (the pool users run) on the ``fall`` queue, returned once it is ready."""
    process = spawn(celery("worker", "-Q", "fall", "-c", "2", "-l", "INFO", "--without-mingle", "--without-gossip",
                           "-n", f"{name}-{time.time_ns()}@%h"), env, name)
    process.wait_for("ready.", 60)
    return process


def start_streamer(spawn, env: dict[str, str], *extra: str) -> tuple[BenchProcess, str]:
    """A streamer on a free port, returned with its URL once it serves with its inputs connected."""
    port = free_port()
    process = spawn(vigil("stream", "--port", str(port), *extra), env, "streamer")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if inputs_connected(url):
            return process, url
        time.sleep(0.2)
    raise AssertionError(f"streamer not connected:\n{process.output()}")


@pytest.fixture
def worker(clean, spawn, vigil_env) -> BenchProcess:
    return start_worker(spawn, vigil_env)


@pytest.fixture
def streamer(clean, spawn, vigil_env) -> tuple[BenchProcess, str]:
    return start_streamer(spawn, vigil_env)


@pytest.fixture
def private_worker(private_env, spawn) -> BenchProcess:
    return start_worker(spawn, private_env)


@pytest.fixture
def private_streamer(private_env, spawn) -> tuple[BenchProcess, str]:
    return start_streamer(spawn, private_env)


@pytest.fixture
def clip() -> Path:
    path = DATA_DIR / "headpose" / "head_stationary_640x360.mp4"
    if not path.exists():
        unavailable(f"test footage missing: {path} (set VIGIL_DATA_DIR)")
    return path


# TLS: a CA, a private RabbitMQ and Redis that only speak TLS and want a client certificate

@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    try:
        return make_test_pki(tmp_path_factory.mktemp("pki"))
    except ServerNotInstalled as exc:
        unavailable(str(exc))
        raise


@pytest.fixture(scope="module")
def tls_servers(pki: Pki) -> Iterator[tuple[PrivateRabbitMQ, PrivateRedis]]:
    try:
        rabbit = PrivateRabbitMQ(tls=pki)
    except ServerNotInstalled as exc:
        unavailable(str(exc))
    redis_server = PrivateRedis(tls=pki)
    try:
        redis_server.start()
        rabbit.start()
    except ServerNotInstalled as exc:
        redis_server.stop()
        unavailable(str(exc))
    except ServerUnavailable as exc:
        redis_server.stop()
        rabbit.stop()
        pytest.fail(str(exc), pytrace=False)
    yield rabbit, redis_server
    rabbit.stop()
    redis_server.stop()


@pytest.fixture
def tls_env(vigil_env: dict[str, str], tls_servers, pki: Pki) -> dict[str, str]:
    rabbit, redis_server = tls_servers
    assert rabbit.tls_url is not None
    return dict(vigil_env, VIGIL_BROKER_URL=rabbit.tls_url, VIGIL_RESULT_BACKEND=redis_server.url,
                VIGIL_TLS_CA_FILE=str(pki.ca), VIGIL_TLS_CERT_FILE=str(pki.client_cert),
                VIGIL_TLS_KEY_FILE=str(pki.client_key))
