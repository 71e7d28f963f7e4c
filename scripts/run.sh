#!/usr/bin/env bash
# Run Vigil on one machine with no RabbitMQ or Redis: creates .venv, installs Vigil with
# its detectors, then runs `vigil run`. Without arguments it plays 480 frames (two 16 s cycles) of the
# built-in demo camera (a person, her face, a fall) and writes report.json; pass your own `vigil run` options to
# use a webcam, a file or a stream, e.g. scripts/run.sh --source 0
source "$(dirname "$0")/_env.sh"
vigil_venv "detectors"
cd "$ROOT"
if [ "$#" -eq 0 ]; then
    set -- --source demo=demo --max-frames 480 --report report.json
fi
exec vigil run "$@"
