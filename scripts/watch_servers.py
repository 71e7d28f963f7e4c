"""Run a command and fail if the default RabbitMQ or Redis was stopped or restarted meanwhile.

.ci/run wraps the test suite in it: the suite may use the developer's servers as a client, never
stop, restart or reconfigure them (destructive tests start servers of their own). Evidence:

- an AMQP connection opened before the command, without heartbeats, must still be open after it:
  ``rabbitmqctl stop_app``/``start_app`` keeps the Erlang VM (and its uptime) but closes every
  client connection, a restart closes the socket;
- the node's OS pid and uptime (``rabbitmq-diagnostics status``), when the CLI may talk to it;
- Redis' ``run_id`` (new at each start) and ``uptime_in_seconds`` from ``INFO server``.

Usage: python scripts/watch_servers.py -- scripts/test.sh -q
Exit status: the command's when it failed, else 1 when a server was touched, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import amqp
import redis
from kombu.utils.url import parse_url

BROKER_URL = os.environ.get("VIGIL_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
REDIS_URL = os.environ.get("VIGIL_TEST_RESULT_BACKEND", "redis://127.0.0.1:6379/15")
SLACK_SECONDS = 5  # uptimes are whole seconds and read a moment apart


@dataclass(frozen=True)
class Uptime:
    identity: str  # changes when the server process is replaced
    seconds: float

    def restarted_since(self, before: Uptime, elapsed: float) -> bool:
        return self.identity != before.identity or self.seconds < before.seconds + elapsed - SLACK_SECONDS


def rabbitmq_uptime() -> Uptime | str:
    """The default node's pid and uptime, or why the CLI could not tell."""
    try:
        done = subprocess.run(["rabbitmq-diagnostics", "-q", "status", "--formatter", "json"], capture_output=True,
                              text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"rabbitmq-diagnostics unavailable: {exc}"
    if done.returncode != 0:
        return f"rabbitmq-diagnostics status exited {done.returncode}: {done.stderr.strip()[-300:]}"
    status: dict[str, Any] = json.loads(done.stdout)
    return Uptime(f"pid {status['pid']}", float(status["uptime"]))


def redis_uptime(client: redis.Redis) -> Uptime:
    info = client.info("server")
    return Uptime(f"run_id {info['run_id']}", float(info["uptime_in_seconds"]))


def redis_uptime_after(client: redis.Redis) -> Uptime:
    try:
        return redis_uptime(client)
    except redis.ConnectionError as exc:
        return Uptime(f"unreachable ({exc})", 0.0)  # stopped: counts as restarted


def open_sentinel(url: str) -> amqp.Connection:
    parts = parse_url(url)
    connection = amqp.Connection(f"{parts['hostname']}:{parts['port'] or 5672}", userid=parts["userid"],
                                 password=parts["password"], virtual_host=parts["virtual_host"] or "/",
                                 heartbeat=0, connect_timeout=10)
    connection.connect()
    return connection


def sentinel_survived(connection: amqp.Connection) -> str | None:
    """None when the connection is still open and usable, else what happened to it."""
    try:
        connection.drain_events(timeout=0.5)  # a close from the broker, or EOF, is waiting here
    except TimeoutError:
        pass
    except Exception as exc:  # any way the connection ended is the finding
        return f"{type(exc).__name__}: {exc}"
    else:
        return "the broker sent something unexpected on an idle connection"
    try:
        connection.channel().close()
        connection.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def compare(name: str, before: Uptime | str, after: Uptime | str, elapsed: float) -> bool:
    """Print the evidence; True when the server was touched."""
    if isinstance(before, str) or isinstance(after, str):
        print(f"watch: {name}: no uptime ({before if isinstance(before, str) else after})", file=sys.stderr)
        return False
    touched = after.restarted_since(before, elapsed)
    print(f"watch: {name}: {before.identity}, uptime {before.seconds:.0f} s before and {after.seconds:.0f} s after "
          f"a {elapsed:.0f} s run: {'RESTARTED' if touched else 'untouched'}"
          + (f" (now {after.identity})" if after.identity != before.identity else ""), file=sys.stderr)
    return touched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker-url", default=BROKER_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("command", nargs="+", help="the command to run (after --)")
    args = parser.parse_args(argv)

    client = redis.Redis.from_url(args.redis_url, socket_connect_timeout=5)
    sentinel = open_sentinel(args.broker_url)
    rabbit_before, redis_before = rabbitmq_uptime(), redis_uptime(client)
    started = time.monotonic()
    print(f"watch: default RabbitMQ and Redis watched while running: {' '.join(args.command)}", file=sys.stderr)

    returncode = subprocess.call(args.command)

    elapsed = time.monotonic() - started
    touched = compare("default RabbitMQ node", rabbit_before, rabbitmq_uptime(), elapsed)
    touched |= compare(f"default Redis {args.redis_url}", redis_before, redis_uptime_after(client), elapsed)
    lost = sentinel_survived(sentinel)
    print(f"watch: AMQP connection to {args.broker_url} opened before the run: "
          + ("still open" if lost is None else f"LOST ({lost}): the broker was stopped or restarted"),
          file=sys.stderr)
    touched |= lost is not None
    if touched:
        print("!! the suite stopped or restarted a server it does not own: destructive tests must use the private "
              "servers (private_env in tests/integration/conftest.py)", file=sys.stderr)
    return returncode or int(touched)


if __name__ == "__main__":
    sys.exit(main())
