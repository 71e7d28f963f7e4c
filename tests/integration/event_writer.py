"""A streamer's event side as a process of its own, for the tests that kill it or run two.

It opens the store and media folder from the ``VIGIL_*`` environment exactly as ``vigil stream``
does (``open_event_store``) and plays what the processing thread does for each emitted frame
(``StreamCore._emit``): the frame to the media recorder, then the events the rules raised, here
falls from the tests' builder. It prints ``STORED <json ids>`` once every message is stored and
every clip written, then waits to be killed (``kill -9`` in the restart tests).

    python -m tests.integration.event_writer --camera door --falls 3 [--first-seq 100] [--exit]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from tests.incidents import joined, message
from vigil.settings import Settings
from vigil.stream.events import EventLog
from vigil.stream.service import open_event_store

FPS = 10.0
FALL_EVERY = 100  # frames between two falls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--camera", default="door")
    parser.add_argument("--falls", type=int, default=3)
    parser.add_argument("--first-seq", type=int, default=100)
    parser.add_argument("--origin", type=float, default=None, help="capture time of frame 0 (epoch s)")
    parser.add_argument("--exit", action="store_true", help="stop cleanly instead of waiting to be killed")
    args = parser.parse_args()
    settings = Settings.load()
    store, media = open_event_store(settings)
    log = EventLog(store, media=media)
    origin = time.time() - 600 if args.origin is None else args.origin
    ids, sent = [], {}
    for index in range(args.falls):
        start_seq = args.first_seq + index * FALL_EVERY
        common = {"camera": args.camera, "start_seq": start_seq, "start": origin + start_seq / FPS, "fps": FPS}
        sent[start_seq + 10] = message("new", start_seq + 10, **common)
        sent[start_seq + 30] = message("update", start_seq + 30, **common)
        sent[start_seq + 50] = message("end", start_seq + 50, **common)
        ids.append(sent[start_seq + 10]["id"])
    last = args.first_seq + args.falls * FALL_EVERY
    for seq in range(max(0, args.first_seq - 60), last):
        media.add_frame(joined(seq, origin + seq / FPS, args.camera), {}, {})
        if seq in sent:
            log.publish(sent[seq])
    deadline = time.monotonic() + 120
    while not all((store.get(event_id) or {}).get("clip") for event_id in ids):
        if time.monotonic() > deadline:
            sys.exit(f"clips not written: {media.counters}")
        time.sleep(0.1)
    print("STORED " + json.dumps(ids), flush=True)
    if args.exit:
        log.close()
        return
    threading.Event().wait()


if __name__ == "__main__":
    main()
