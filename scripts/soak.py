#!/usr/bin/env python3
"""Leave the whole pipeline running and check that nothing grows: memory, files, Redis, queues.

    scripts/soak.py                                   # 2 cameras x 15 fps x 4 algorithms, 10 minutes
    scripts/soak.py --duration 3600 --cameras 4       # an hour, four cameras

Starts a prefork worker, a streamer and one capture per camera (the null detector, a looped
clip) against RabbitMQ and Redis (127.0.0.1 or --broker-url / --result-backend; the result db
is flushed, so give it one of its own), reads every process's memory (PSS, pool children
included) and open files, Redis' memory and keys and the queues' depths after the warm-up and
at the end, prints a table and exits 1 if anything grew by more than 10%. Use a Redis that
nothing else writes to: its memory is read for the whole server.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vigil.bench.deployment import Target
from vigil.bench.soak import default_work_dir, soak, table

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "headpose" / "head_turning_640x360.mp4"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600, help="seconds in all, warm-up included (600)")
    parser.add_argument("--warm-up", type=float, help="seconds before the first reading (default: 40%%, "
                        "at least the result expiry + 10 s)")
    parser.add_argument("--cameras", type=int, default=2, help="capture processes (2)")
    parser.add_argument("--fps", type=float, default=15, help="frames a second per camera (15)")
    parser.add_argument("--source", default=str(DEFAULT_SOURCE), help="the clip each camera loops")
    parser.add_argument("--broker-url", default=os.environ.get("VIGIL_BROKER_URL", "amqp://guest:guest@127.0.0.1//"))
    parser.add_argument("--result-backend", default=os.environ.get("VIGIL_RESULT_BACKEND", "redis://127.0.0.1:6379/14"),
                        help="Redis db for results (flushed first; default db 14)")
    parser.add_argument("--work-dir", type=Path, default=default_work_dir(), help="logs of every process")
    args = parser.parse_args()
    if not Path(args.source).is_file():
        parser.error(f"--source {args.source} does not exist")
    target = Target(args.broker_url, args.result_backend, args.work_dir)
    print(f"soaking {args.cameras} cameras x {args.fps:g} fps x 4 algorithms for {args.duration:.0f} s; "
          f"logs in {args.work_dir}", flush=True)
    rows, seconds = soak(target, args.source, cameras=args.cameras, fps=args.fps, duration=args.duration,
                         warm_up=args.warm_up, progress=lambda line: print(line, flush=True))
    print(table(rows, seconds))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
