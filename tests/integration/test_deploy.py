"""The deployment files in deploy/: checked by their own tools, and the systemd units' exact commands run.

- ``systemd-analyze verify`` on each unit (paths pointed at this venv) must print nothing;
- ``docker compose config`` (or ``docker-compose config``) must accept compose.yaml, with one
  capture service per camera of the example vigil.toml;
- each unit's ``ExecStart`` and ``Environment`` are parsed and run as written, with only the
  install paths, the config file and the ports substituted, against the real RabbitMQ and Redis.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import BIN, BROKER_URL, RESULT_BACKEND, ROOT, free_port, healthz, unavailable

pytestmark = pytest.mark.integration

DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALLED_BIN = "/opt/vigil/venv/bin"
INSTALLED_CONFIG = "/etc/vigil/vigil.toml"
STATE_DIR = "/var/lib/vigil"
FLOWER_AUTH = ("admin", "deploy-test")


@dataclass
class Unit:
    name: str
    exec_start: str
    environment: dict[str, str] = field(default_factory=dict)
    environment_files: list[str] = field(default_factory=list)


def parse_unit(path: Path) -> Unit:
    """ExecStart, Environment and EnvironmentFile of a unit's [Service] section."""
    section, exec_start, env, env_files = "", "", {}, []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        key, _, value = line.partition("=")
        if section != "[Service]":
            continue
        if key == "ExecStart":
            exec_start = value
        elif key == "Environment":
            for item in shlex.split(value):
                name, _, setting = item.partition("=")
                env[name] = setting
        elif key == "EnvironmentFile":
            env_files.append(value)
    assert exec_start, f"{path.name} has no ExecStart"
    return Unit(path.name, exec_start, env, env_files)


def test_every_documented_unit_is_shipped():
    assert [u.name for u in UNITS] == ["vigil-capture@.service", "vigil-flower.service", "vigil-stream.service",
                                       "vigil-worker.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_analyze_verify_accepts_the_unit(unit: Path, tmp_path: Path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        unavailable("systemd-analyze is not installed (Debian: apt-get install systemd)")
    # verify checks that ExecStart's program exists: point it at this venv; a template needs an instance
    name = unit.name.replace("@.service", "@door.service")
    (tmp_path / name).write_text(unit.read_text().replace(INSTALLED_BIN, str(BIN)))
    done = subprocess.run([tool, "verify", str(tmp_path / name)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def compose_command() -> list[str]:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    unavailable("neither `docker compose` nor `docker-compose` is installed (Debian: apt-get install docker-compose)")
    raise AssertionError


def compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*compose_command(), "-f", str(DEPLOY / "compose.yaml"), *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=DEPLOY)


def test_compose_config_accepts_the_file_and_runs_one_capture_per_camera():
    env = dict(os.environ, RABBITMQ_PASSWORD="r", POSTGRES_PASSWORD="p", FLOWER_BASIC_AUTH="admin:f")
    checked = compose("config", "-q", env=env)
    assert (checked.returncode, checked.stderr) == (0, "")
    services = set(compose("config", "--services", env=env).stdout.split())
    cameras = tomllib.loads((DEPLOY / "vigil.toml").read_text())["cameras"]
    assert {s for s in services if s.startswith("capture-")} == {f"capture-{name}" for name in cameras}
    assert {"rabbitmq", "redis", "mosquitto", "postgres", "worker", "stream", "flower"} <= services


def test_compose_refuses_to_start_without_the_passwords():
    env = {k: v for k, v in os.environ.items() if k not in ("RABBITMQ_PASSWORD", "POSTGRES_PASSWORD",
                                                            "FLOWER_BASIC_AUTH")}
    checked = compose("config", "-q", env=env)
    assert checked.returncode != 0 and "set RABBITMQ_PASSWORD" in checked.stdout + checked.stderr


def test_compose_redis_persists_and_flower_has_a_login():
    text = (DEPLOY / "compose.yaml").read_text()
    assert '"--appendonly", "yes"' in text and "redis-data:/data" in text
    assert "--basic-auth=${FLOWER_BASIC_AUTH" in text and '"127.0.0.1:5555:5555"' in text


# -- the units' exact commands, run -------------------------------------------------------------------


class Site:
    """Runs units' commands as written, with the install paths, config file and ports substituted."""

    def __init__(self, tmp_path: Path, config: Path) -> None:
        self.tmp_path = tmp_path
        self.config = config
        self.state = tmp_path / "state"
        self.state.mkdir()
        self.processes: list[tuple[str, subprocess.Popen, Path]] = []
        self.ports: dict[str, int] = {}

    def command(self, unit: Unit, instance: str = "") -> tuple[list[str], dict[str, str]]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_") or k.startswith("VIGIL_TEST_")}
        env["PYTHONUNBUFFERED"] = "1"
        for env_file in unit.environment_files:
            assert env_file == "/etc/vigil/flower.env", env_file
            env["FLOWER_BASIC_AUTH"] = ":".join(FLOWER_AUTH)
        for name, value in unit.environment.items():
            env[name] = self._paths(value)
        line = unit.exec_start.replace("%i", instance).replace("%H", socket.gethostname()).replace("%%", "%")
        args = [self._paths(os.path.expandvars(arg) if "${" in arg else arg) for arg in shlex.split(line)]
        for index, arg in enumerate(args):  # a free port instead of the unit's, so tests never collide
            if arg == "--port":
                args[index + 1] = str(self._port(unit.name))
            elif arg.startswith("--port="):
                args[index] = f"--port={self._port(unit.name)}"
        return [os.path.expandvars(a) if "${" in a else a for a in args], env

    def _paths(self, text: str) -> str:
        return (text.replace(INSTALLED_BIN, str(BIN)).replace(INSTALLED_CONFIG, str(self.config))
                .replace(STATE_DIR, str(self.state)))

    def _port(self, unit_name: str) -> int:
        return self.ports.setdefault(unit_name, free_port())

    def start(self, unit: Unit, instance: str = "") -> Path:
        args, env = self.command(unit, instance)
        flower_auth = env.get("FLOWER_BASIC_AUTH")
        if flower_auth:
            args = [a.replace("${FLOWER_BASIC_AUTH}", flower_auth) for a in args]
        log = self.tmp_path / f"{unit.name}{instance}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(args, env=env, cwd=self.state, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append((unit.name, popen, log))
        return log

    def stop(self) -> None:
        for _, popen, _ in reversed(self.processes):
            if popen.poll() is None:
                popen.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(20)
            if popen.poll() is None:
                popen.kill()
                popen.wait()

    def output(self) -> str:
        return "\n".join(f"== {name}\n{log.read_text(errors='replace')[-2000:]}" for name, _, log in self.processes)


def wait_until(predicate, timeout: float, site: Site) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, OSError, KeyError, ValueError):
            if predicate():
                return
        time.sleep(0.3)
    raise AssertionError(site.output())


@pytest.fixture
def site(clean, tmp_path: Path):
    config = tmp_path / "vigil.toml"
    config.write_text(
        "[vigil]\n"
        f'broker_url = "{BROKER_URL}"\n'
        f'result_backend = "{RESULT_BACKEND}"\n'
        'detector_override = "null"\n'
        "\n[cameras.door]\n"
        'source = "synthetic:160x120@10"\n'
        "fps = 10\n"
        "algorithms = { fall = 5, pose = 10, blink = 10, emotion = 5 }\n"
    )
    running = Site(tmp_path, config)
    yield running
    running.stop()


def units() -> dict[str, Unit]:
    return {unit.name: parse_unit(unit) for unit in UNITS}


def capture_supports_config() -> bool:
    shown = subprocess.run([str(BIN / "vigil"), "capture", "--help"], capture_output=True, text=True, timeout=60)
    return "--config" in shown.stdout


def test_the_units_commands_start_and_serve(site: Site):
    found = units()
    # Given the worker, streamer and Flower units' commands, as written
    worker_log = site.start(found["vigil-worker.service"])
    site.start(found["vigil-stream.service"])
    site.start(found["vigil-flower.service"])
    stream_url = f"http://127.0.0.1:{site.ports['vigil-stream.service']}"
    flower_url = f"http://127.0.0.1:{site.ports['vigil-flower.service']}"
    # Then the worker consumes every queue, from the broker the config file names
    wait_until(lambda: "ready: consuming" in worker_log.read_text(), 90, site)
    assert BROKER_URL.rsplit("/", 1)[-1] in worker_log.read_text()
    # and the streamer serves with both inputs connected
    wait_until(lambda: all(healthz(stream_url)[1]["checks"]["inputs"].values()), 60, site)
    # and Flower asks for the login, and lets it in
    wait_until(lambda: requests.get(flower_url, timeout=2).status_code == 401, 60, site)
    assert requests.get(f"{flower_url}/api/workers", auth=FLOWER_AUTH, timeout=10).status_code == 200
    # When the capture unit's command runs for camera "door" (needs `vigil capture --config`)
    assert capture_supports_config()
    site.start(found["vigil-capture@.service"], instance="door")
    # Then the camera's frames come through the worker to the streamer, and /healthz says 200
    wait_until(lambda: healthz(stream_url)[0] == 200 and "door" in healthz(stream_url)[1]["checks"]["cameras"],
               90, site)


def test_the_example_site_file_is_valid():
    done = subprocess.run([str(BIN / "vigil"), "config", "check", str(DEPLOY / "vigil.toml")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
