#!/usr/bin/env python3
"""Run the fuzzer (tests/faults) with as many messages as you like, against the real servers.

CI runs a fixed sample (1,000 task and 1,000 feed messages, seed 2026). This runs any size and
seed, e.g. overnight:

    scripts/fuzz.py --count 20000 --seed 7

It starts a worker and a streamer of its own (as the tests do) against RabbitMQ and Redis on
127.0.0.1 (or VIGIL_TEST_BROKER_URL / VIGIL_TEST_RESULT_BACKEND), publishes each generated
message and accounts for it: a result or a refusal for each task, a count for each feed
message; nothing may die, and memory after the run stays within 10% of after warm-up. A
failure names the message number, family and seed: rerun with that seed to reproduce it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="messages of each kind (default 10000)")
    parser.add_argument("--seed", type=int, default=2026, help="generator seed (default 2026)")
    parser.add_argument("--only", choices=("task", "feed"), help="fuzz only the workers or only the streamer")
    args = parser.parse_args()
    env = dict(os.environ, VIGIL_FUZZ_COUNT=str(args.count), VIGIL_FUZZ_SEED=str(args.seed))
    command = [sys.executable, "-m", "pytest", str(ROOT / "tests" / "faults"), "-q", "-s", "-p", "no:cacheprovider",
               "-o", "timeout=0"]
    if args.only:
        command += ["-k", args.only]
    print(f"fuzzing with {args.count} messages of each kind, seed {args.seed}", flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
