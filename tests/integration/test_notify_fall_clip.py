"""Issue 8, section 6: the corridor fall clip through `vigil run` with the real detectors, notified.

The fall is one incident: one `new` (the woman is still down when the clip ends, so the lifecycle
sends no `end`: events-core's decision). A real Mosquitto subscriber gets exactly the incident's
lifecycle messages, the retained availability and state, and the snapshot once the event store
provides it; a webhook receiver gets the same messages, signed.
"""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.integration.conftest import DATA_DIR, unavailable, vigil
from tests.integration.mqtt_helpers import DEFAULT_BROKER, Subscriber, clear_retained, reachable, unique_prefix
from vigil.notify.messages import verify

pytestmark = [pytest.mark.integration, pytest.mark.detectors]
SECRET = "corridor-secret-0123456789"


def test_the_corridor_fall_is_one_alert_on_mqtt_and_webhook(vigil_env, tmp_path):
    clip = DATA_DIR / "fall" / "fall_corridor_walker_640x360.mp4"
    if not clip.exists():
        unavailable(f"test footage missing: {clip} (set VIGIL_DATA_DIR)")
    if not reachable(*DEFAULT_BROKER):
        unavailable(f"Mosquitto unreachable at {DEFAULT_BROKER[0]}:{DEFAULT_BROKER[1]}")
    posts: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            posts.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    prefix = unique_prefix()
    site = tmp_path / "vigil.toml"
    site.write_text(f'[vigil]\nlog_level = "INFO"\n\n[mqtt]\nport = {DEFAULT_BROKER[1]}\nprefix = "{prefix}"\n\n'
                    f'[[webhooks]]\nname = "carers"\nurl = "http://127.0.0.1:{receiver.server_address[1]}/"\n'
                    f'secret = "{SECRET}"\nkinds = ["fall"]\n')
    report = tmp_path / "report.json"
    env = {k: v for k, v in vigil_env.items()
           if k not in ("VIGIL_BROKER_URL", "VIGIL_RESULT_BACKEND", "VIGIL_DETECTOR_OVERRIDE")}
    env.update(VIGIL_CONFIG=str(site), VIGIL_QUEUE_MAX_LENGTH="1000", VIGIL_MAX_FRAME_AGE="60",
               VIGIL_RESULT_DEADLINE="30")
    subscriber = Subscriber(DEFAULT_BROKER[1], f"{prefix}/#")
    try:
        # Given the corridor clip (a woman with a walker collapses) and the real fall and pose detectors
        done = subprocess.run(vigil("run", "--source", f"corridor={clip}", "--algorithms", "fall,pose",
                                    "--no-http", "--report", str(report)),
                              env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        events = json.loads(report.read_text())["events"]
        falls = [(e["type"], e["seq"]) for e in events if e["kind"] == "fall"]
        assert [kind for kind, _ in falls].count("new") == 1, falls  # one incident, one alert
        # Then MQTT carried exactly the incident's lifecycle messages, in order, and nothing else of it
        messages = subscriber.received()
        published = [json.loads(p)["event"] for t, p, _ in messages if t == f"{prefix}/events"]
        assert [(e["type"], e["seq"]) for e in published if e["kind"] == "fall"] == falls
        # And the state is ON while the person is down, OFF once it ended (retained for late subscribers)
        states = [p for t, p, _ in messages if t == f"{prefix}/corridor/fall"]
        ended = falls[-1][0] == "end"
        assert states == ([b"ON", b"OFF"] if ended else [b"ON"])
        late = Subscriber(DEFAULT_BROKER[1], f"{prefix}/#")
        try:
            retained = {t: p for t, p, r in late.wait_for(2) if r}
        finally:
            late.close()
        assert retained[f"{prefix}/available"] == b"offline"
        assert retained[f"{prefix}/corridor/fall"] == (b"OFF" if ended else b"ON")
        # And the `new` carries its snapshot's URL, and the snapshot JPEG went out too
        assert all(e["snapshot"] for e in published if e["kind"] == "fall")
        snapshots = [p for t, p, _ in messages if t == f"{prefix}/corridor/fall/snapshot"]
        assert snapshots and all(p[:2] == b"\xff\xd8" for p in snapshots)
        # And the webhook got the same messages, signed
        assert [(json.loads(b)["type"], json.loads(b)["event"]["seq"]) for _, b in posts] == falls
        assert all(verify(SECRET.encode(), body, headers["X-Vigil-Signature"]) for headers, body in posts)
    finally:
        subscriber.close()
        receiver.shutdown()
        receiver.server_close()
        clear_retained(DEFAULT_BROKER[1], [f"{prefix}/available", f"{prefix}/corridor/fall",
                                           f"{prefix}/corridor/fall/snapshot"])
