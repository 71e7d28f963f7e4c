#!/usr/bin/env bash
# Run Vigil's tests from a fresh machine: creates .venv, installs everything, makes sure
# RabbitMQ and Redis run on 127.0.0.1 (starting them if installed), installs Chromium for the
# browser tests when it is missing and we are root, then runs pytest.
# The tests only use those servers as a client: the ones that stop or restart a server
# start private ones of their own (tests/integration/servers.py).
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
source "$(dirname "$0")/_env.sh"
vigil_venv "$TEST_EXTRAS"
if ! ensure_services; then
    if [ "${CI:-}" = "true" ]; then
        echo "!! CI=true: the integration tests need RabbitMQ and Redis; failing" >&2
        exit 1
    fi
    echo "!! integration tests will be skipped (start RabbitMQ and Redis to run them)" >&2
fi
if ! ensure_chromium; then
    if [ "${CI:-}" = "true" ]; then
        echo "!! CI=true: the browser tests need Chromium: apt-get install -y chromium chromium-driver; failing" >&2
        exit 1
    fi
    echo "!! browser tests will be skipped (apt-get install -y chromium chromium-driver)" >&2
fi
if ! ensure_deploy_tools; then
    echo "!! deployment tests will skip (CI=true: fail): apt-get install -y systemd docker-compose" >&2
fi
cd "$ROOT"
exec python -m pytest "$@"
