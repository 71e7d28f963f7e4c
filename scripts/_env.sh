# Shared by scripts/*.sh: create .venv and install Vigil with the given extras (idempotent).
# Usage: source scripts/_env.sh; vigil_venv "detectors,test"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VIGIL_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
TEST_EXTRAS="detectors,test,bench"  # what scripts/test.sh and .ci/run install

vigil_venv() {
    local extras="$1"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> creating a virtual environment in $VENV" >&2
        "$PYTHON" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
    fi
    local stamp="$VENV/.vigil-installed-$extras"
    if [ ! -f "$stamp" ] || [ "$ROOT/setup.cfg" -nt "$stamp" ]; then
        echo "==> installing vigil[$extras] into $VENV" >&2
        "$VENV/bin/python" -m pip install --quiet --editable "$ROOT[$extras]"
        "$VENV/bin/python" -m pip check
        touch "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}

# Start RabbitMQ and Redis on 127.0.0.1 if they are installed but not running.
ensure_services() {
    if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
        if command -v redis-server >/dev/null; then
            echo "==> starting Redis" >&2
            redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
        fi
    fi
    if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
        if command -v rabbitmq-server >/dev/null; then
            echo "==> starting RabbitMQ" >&2
            rabbitmq-server -detached
        fi
    fi
    ensure_mosquitto || true  # the MQTT tests skip without it (and fail with CI=true)
    local waited=0
    until (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; do
        if [ "$waited" -ge 60 ]; then
            echo "!! RabbitMQ (5672) or Redis (6379) is not reachable on 127.0.0.1" >&2
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

# Mosquitto on 127.0.0.1:1883 for the MQTT notification tests: installed in CI if missing
# (Debian's package), started in the background (`mosquitto -d`: loopback only) if not running.
ensure_mosquitto() {
    if (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
        return 0
    fi
    if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ] && [ "${CI:-}" = "true" ]; then
        echo "==> installing mosquitto" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null
    fi
    local binary
    binary="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
    [ -x "$binary" ] || return 1
    echo "==> starting Mosquitto" >&2
    "$binary" -d
    local waited=0
    until (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; do
        [ "$waited" -ge 10 ] && return 1
        sleep 1
        waited=$((waited + 1))
    done
}

# Headless Chromium for the page's browser tests (tests/browser): Debian's packages, driven by
# playwright with executable_path (never `playwright install`, which would download a browser).
# Installs them when missing and we are root; returns non-zero if Chromium is still missing.
ensure_chromium() {
    if [ -x /usr/bin/chromium ]; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing chromium and chromium-driver (browser tests)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q chromium chromium-driver >/dev/null \
            || { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; } \
            || true
    fi
    [ -x /usr/bin/chromium ]
}

# The deployment tests' tools (tests/integration/test_deploy.py): systemd-analyze (package systemd) and
# docker compose or docker-compose. Installs what is missing when we are root; returns non-zero if a
# tool is still missing (the tests then skip, or fail with CI=true).
ensure_deploy_tools() {
    local missing=()
    command -v systemd-analyze >/dev/null || missing+=(systemd)
    { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; } || missing+=(docker-compose)
    if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing ${missing[*]} (deployment tests)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q "${missing[@]}" >/dev/null \
            || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; } \
            || true
    fi
    command -v systemd-analyze >/dev/null \
        && { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; }
}
