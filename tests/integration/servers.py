"""Private RabbitMQ and Redis servers that a destructive test owns.

A test that stops, restarts or kills a server must never do it to the one the developer
already runs: it starts its own on free loopback ports, with its own files, and stops it after.

- ``PrivateRabbitMQ``: a second RabbitMQ node (``vigil-test-<pid>@localhost``) with its own
  Erlang distribution port, its own epmd on a free port, its own Erlang cookie (``HOME`` is a
  private directory), and private config, plugins, mnesia and log files, so nothing in
  ``/etc/rabbitmq`` (a listener on 5672, the management plugin on 15672) leaks in. Its
  ``rabbitmqctl`` always carries ``-n NODE`` and the same private environment.
- ``PrivateRedis``: ``redis-server --port N --save "" --appendonly no`` in a private directory.
- Either with ``tls=Pki(...)``: a TLS listener too (RabbitMQ ``listeners.ssl.default``; Redis
  ``--tls-port``, then TLS only), requiring a client certificate signed by the test's own CA
  (:func:`make_test_pki`, made with the ``openssl`` command).

Every process is started in the foreground by ``subprocess.Popen`` and stopped by its pid, so
nothing outlives the test session even when a stop command fails.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
from pathlib import Path

import redis


class ServerUnavailable(RuntimeError):
    """A private server could not be started."""


class ServerNotInstalled(ServerUnavailable):
    """Its program is not installed on this machine."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rabbitmq_scripts() -> tuple[Path, Path]:
    """``rabbitmq-server`` and ``rabbitmqctl`` that run as the current user.

    Debian's ``/usr/sbin/rabbitmq-server`` is a wrapper that switches to the ``rabbitmq`` user
    (whose cookie and directories belong to the default node) or refuses any other user; the real
    scripts sit beside the wrapper. Other installs (Homebrew, the generic tarball) are the scripts.

    Raises:
        ServerNotInstalled: RabbitMQ is not installed.
    """
    found = shutil.which("rabbitmq-server") or next(
        (p for p in ("/usr/lib/rabbitmq/bin/rabbitmq-server", "/usr/sbin/rabbitmq-server") if os.path.exists(p)), None)
    if found is None:
        raise ServerNotInstalled("rabbitmq-server is not installed (needed for the tests that restart the broker)")
    real = Path(os.path.realpath(found))
    if real.name == "rabbitmq-script-wrapper":
        real = real.parent / "rabbitmq-server"
    ctl = real.parent / "rabbitmqctl"
    if not real.exists() or not ctl.exists():
        raise ServerUnavailable(f"rabbitmq-server found at {found}, but not the scripts beside it ({real}, {ctl})")
    return real, ctl


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _stop_process(popen: subprocess.Popen, timeout: float) -> None:
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


@dataclasses.dataclass(frozen=True)
class Pki:
    """A CA made for one test run, a server and a client certificate it signed, and a foreign CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # signed nothing here: trusting it instead of ``ca`` must fail


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise ServerUnavailable(f"openssl {' '.join(args)} failed:\n{done.stderr}")


def make_test_pki(directory: Path) -> Pki:
    """Make a CA, a server certificate for 127.0.0.1/localhost and a client certificate (EC P-256).

    Raises:
        ServerNotInstalled: the ``openssl`` command is missing.
    """
    if shutil.which("openssl") is None:
        raise ServerNotInstalled("openssl is not installed (needed to make the TLS tests' certificates)")
    directory.mkdir(parents=True, exist_ok=True)
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", *key, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                 "-subj", f"/CN=vigil test {ca}", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    for name, usage in (("server", "serverAuth"), ("client", "clientAuth")):
        (directory / f"{name}.ext").write_text(
            f"subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n")
        _openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN=vigil-{name}",
                 cwd=directory)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=directory)
    return Pki(*(directory / n for n in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key",
                                             "other-ca.pem")))


class PrivateRabbitMQ:
    """A RabbitMQ node of our own; :meth:`start` returns once it accepts AMQP connections.

    With ``tls``, it also listens for AMQP over TLS on ``tls_port`` (``tls_url``), requiring a
    client certificate signed by the PKI's CA.
    """

    def __init__(self, tls: Pki | None = None) -> None:
        self.server_script, self.ctl_script = rabbitmq_scripts()
        self.base = Path(tempfile.mkdtemp(prefix="vigil-rabbitmq-"))
        self.node = f"vigil-test-{os.getpid()}{'-tls' if tls else ''}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.tls_url = f"amqps://guest:guest@127.0.0.1:{self.tls_port}//" if tls else None
        self.log_path = self.base / "server.out"
        self.env = self._environment()
        self._epmd: subprocess.Popen | None = None
        self._server: subprocess.Popen | None = None
        self.startup_seconds = float("nan")

    def _environment(self) -> dict[str, str]:
        home = self.base / "home"
        home.mkdir()
        cookie = home / ".erlang.cookie"
        cookie.write_text("".join(secrets.choice(string.ascii_uppercase) for _ in range(20)))
        cookie.chmod(0o400)
        config = self.base / "rabbitmq.conf"
        lines = [f"listeners.tcp.local = 127.0.0.1:{self.port}"]
        if self.tls is not None:
            lines += [
                f"listeners.ssl.default = 127.0.0.1:{self.tls_port}",
                f"ssl_options.cacertfile = {self.tls.ca}",
                f"ssl_options.certfile = {self.tls.server_cert}",
                f"ssl_options.keyfile = {self.tls.server_key}",
                "ssl_options.verify = verify_peer",
                "ssl_options.fail_if_no_peer_cert = true",
            ]
        config.write_text("\n".join(lines) + "\n")
        plugins = self.base / "enabled_plugins"
        plugins.write_text("[].\n")
        # the user's RABBITMQ_*/ERL_* settings describe the default node, never ours
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(home),
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_CONF_ENV_FILE=str(self.base / "rabbitmq-env.conf"),  # absent: /etc's is not read
            RABBITMQ_CONFIG_FILE=str(config),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.base / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(plugins),
            RABBITMQ_MNESIA_BASE=str(self.base / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.base / "log"),
            RABBITMQ_PID_FILE=str(self.base / "rabbitmq.pid"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env

    def start(self, timeout: float = 90) -> None:
        """Start epmd and the node; wait until the node is up.

        Raises:
            ServerUnavailable: the node did not come up (its log is in the message).
        """
        started = time.monotonic()
        epmd = shutil.which("epmd") or "epmd"
        with open(self.base / "epmd.out", "ab") as log:
            self._epmd = subprocess.Popen([epmd, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                                          env=self.env, stdout=log, stderr=subprocess.STDOUT)
        with open(self.log_path, "ab") as log:
            self._server = subprocess.Popen([str(self.server_script)], env=self.env, cwd=self.base,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        waited = self.ctl("wait", self.env["RABBITMQ_PID_FILE"], "--timeout", str(int(timeout)), timeout=timeout + 30,
                          check=False)
        if waited.returncode != 0 or self._server.poll() is not None:
            reason = (f"private RabbitMQ node {self.node} did not start:\n{(waited.stdout + waited.stderr)[-2000:]}\n"
                      f"{_tail(self.log_path)}")
            self.stop()
            raise ServerUnavailable(reason)
        self.startup_seconds = time.monotonic() - started

    def ctl(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``rabbitmqctl -n NODE ARGS`` with the node's environment (never the default node)."""
        done = subprocess.run([str(self.ctl_script), "-n", self.node, *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, cwd=self.base)
        if check and done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {self.node} {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}")
        return done

    def stop(self) -> None:
        """Stop the node and its epmd, and remove every file they wrote."""
        if self._server is not None and self._server.poll() is None:
            self.ctl("stop", timeout=60, check=False)
            _stop_process(self._server, 30)
        if self._epmd is not None:
            _stop_process(self._epmd, 10)
        shutil.rmtree(self.base, ignore_errors=True)


class PrivateRedis:
    """``redis-server`` of our own, nothing saved to disk; :meth:`start` returns once it answers PING.

    With ``tls``: TLS only (``rediss://``), on ``port``, requiring a client certificate.
    """

    def __init__(self, tls: Pki | None = None) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="vigil-redis-"))
        self.port = free_port()
        self.tls = tls
        self.url = f"{'rediss' if tls else 'redis'}://127.0.0.1:{self.port}/0"
        self.log_path = self.base / "server.out"
        self._server: subprocess.Popen | None = None

    def _listen_args(self) -> list[str]:
        if self.tls is None:
            return ["--port", str(self.port)]
        return ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(self.tls.server_cert),
                "--tls-key-file", str(self.tls.server_key), "--tls-ca-cert-file", str(self.tls.ca),
                "--tls-auth-clients", "yes"]

    def client(self) -> redis.Redis:
        if self.tls is None:
            return redis.Redis.from_url(self.url, socket_connect_timeout=1)
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, ssl_ca_certs=str(self.tls.ca),
                                    ssl_certfile=str(self.tls.client_cert), ssl_keyfile=str(self.tls.client_key))

    def start(self, timeout: float = 20) -> None:
        """Raises:
            ServerUnavailable: redis-server is not installed or does not answer.
        """
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerNotInstalled("redis-server is not installed (needed for the tests that own their Redis)")
        with open(self.log_path, "ab") as log:
            self._server = subprocess.Popen(
                [binary, *self._listen_args(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.base), "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.base)
        client = self.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._server.poll() is None:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.1)
            finally:
                client.close()
        reason = f"private redis-server on port {self.port} did not start:\n{_tail(self.log_path)}"
        self.stop()
        raise ServerUnavailable(reason)

    def restart(self) -> None:
        """Stop the server and start it again on the same port: everything it held is gone (nothing is saved)."""
        if self._server is not None:
            _stop_process(self._server, 10)
        self.start()

    def stop(self) -> None:
        if self._server is not None:
            _stop_process(self._server, 10)
        shutil.rmtree(self.base, ignore_errors=True)


class PrivateMosquitto:
    """``mosquitto -c CONF`` of our own on a free loopback port, in the foreground; stop and start it at will.

    Persistence is on (in a private directory), so a persistent subscriber's session and its queued
    QoS 1 messages survive a restart, as on a real site's broker.
    """

    def __init__(self, listener: str = "", settings: str = "allow_anonymous true") -> None:
        """``listener``: lines for the listener (TLS files); ``settings``: global lines (password_file)."""
        self.base = Path(tempfile.mkdtemp(prefix="vigil-mosquitto-"))
        self.port = free_port()
        self.log_path = self.base / "server.out"
        self.config = self.base / "mosquitto.conf"
        # user: run as whoever we are (as root, mosquitto would switch to "mosquitto", which can read
        # none of our private files and could not save its persistence file)
        self.config.write_text(
            f"user {getpass.getuser()}\nper_listener_settings false\n{settings}\n"
            f"persistence true\npersistence_location {self.base}/\n"
            f"listener {self.port} 127.0.0.1\n{listener}\n"
        )
        self._server: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> None:
        """Raises:
            ServerUnavailable: mosquitto is not installed or does not listen.
        """
        binary = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if os.path.exists(p)), None)
        if binary is None:
            raise ServerNotInstalled("mosquitto is not installed (needed for the MQTT tests)")
        with open(self.log_path, "ab") as log:
            self._server = subprocess.Popen([binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.base)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        reason = f"private mosquitto on port {self.port} did not start:\n{_tail(self.log_path)}"
        self.stop(remove=True)
        raise ServerUnavailable(reason)

    def stop(self, remove: bool = False) -> None:
        """Stop the broker (SIGTERM: it saves its persistence file); ``remove`` also deletes its files."""
        if self._server is not None:
            _stop_process(self._server, 10)
            self._server = None
        if remove:
            shutil.rmtree(self.base, ignore_errors=True)
