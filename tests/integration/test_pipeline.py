"""The whole pipeline as users run it: worker, capture and streamer processes on RabbitMQ + Redis."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time

import cv2
import numpy as np
import psutil
import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import read_mjpeg_parts
from tests.integration.conftest import ALGORITHM_QUEUES, celery, free_port, vigil

pytestmark = pytest.mark.integration


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, parsed by Prometheus' own parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def wait_for_camera(url: str, camera: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = [c["name"] for c in requests.get(f"{url}/cameras", timeout=2).json()["cameras"]]
        if camera in names and requests.get(f"{url}/cameras/{camera}/results", timeout=2).json()["frame"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"camera {camera} never appeared on {url}")


def test_frames_flow_from_capture_through_workers_to_the_mjpeg_view(worker, streamer, spawn, vigil_env, clip):
    # Given a worker on all four queues and a streamer
    _, url = streamer
    # When a camera plays a real clip at 15 frames/s
    capture = spawn(vigil("capture", "--camera", "itest", "--source", str(clip), "--fps", "15",
                          "--max-frames", "75"), vigil_env, "capture")
    wait_for_camera(url, "itest")
    parts = []
    with requests.get(f"{url}/cameras/itest/mjpeg", stream=True, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        for headers, jpeg in read_mjpeg_parts(response.raw):
            parts.append((headers, jpeg))
            if len(parts) == 20:
                break
    # Then every part is a decodable frame whose overlays all come from that same frame
    seqs = []
    for headers, jpeg in parts:
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[1] == 640
        seq = int(headers["X-Vigil-Seq"])
        overlays = dict(item.split(":") for item in headers["X-Vigil-Overlays"].split(","))
        assert set(overlays) == set(ALGORITHM_QUEUES), headers
        assert all(int(result_seq) == seq for result_seq in overlays.values()), headers
        seqs.append(seq)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert capture.wait(60) == 0
    # And the API reports what happened
    time.sleep(1.5)
    metrics = parse_metrics(requests.get(f"{url}/metrics", timeout=5).text)
    assert metrics["vigil_frames_captured_total", (("camera", "itest"),)] == 75
    assert metrics["vigil_frames_emitted_total", (("camera", "itest"), ("complete", "true"))] >= 70
    assert metrics["vigil_end_to_end_seconds_count", (("camera", "itest"),)] == 75
    assert metrics["vigil_results_total", (("algorithm", "blink"), ("camera", "itest"), ("status", "ok"))] >= 70
    # the broker's view of the queues: all drained, each served by our worker
    assert metrics["vigil_broker_reachable", ()] == 1
    for queue in ALGORITHM_QUEUES:
        assert metrics["vigil_queue_consumers", (("queue", queue),)] >= 1
        assert metrics["vigil_queue_messages", (("queue", queue),)] == 0
    results = requests.get(f"{url}/cameras/itest/results", timeout=5).json()
    assert results["frame"]["complete"] and set(results["frame"]["results"]) == set(ALGORITHM_QUEUES)
    assert requests.get(f"{url}/events", timeout=5).json() == {"events": [], "next": None}
    latest = requests.get(f"{url}/cameras/itest/latest.jpg", timeout=5)
    assert latest.headers["Content-Type"] == "image/jpeg" and latest.content[:2] == b"\xff\xd8"
    assert requests.get(f"{url}/cameras/nope/results", timeout=5).status_code == 404
    page = requests.get(url, timeout=5).text
    assert '<script src="/static/app.js"' in page
    script = requests.get(f"{url}/static/app.js", timeout=5).text
    assert "/cameras" in script and "EventSource" in script


def test_algorithm_queues_carry_the_bounded_arguments(private_rabbitmq, private_worker):
    # rabbitmqctl on our own node: the developer's default node is never the target of rabbitmqctl
    listing = private_rabbitmq.ctl("-q", "list_queues", "name", "arguments", "--formatter", "json").stdout
    # each argument is [name, AMQP type, value]
    arguments = {row["name"]: {key: value for key, _, value in row["arguments"]} for row in json.loads(listing)}
    for name in ALGORITHM_QUEUES:
        assert arguments[name] == {"x-max-length": 4, "x-overflow": "drop-head", "x-message-ttl": 2000}, arguments


def test_a_queue_with_other_arguments_gets_advice_not_a_traceback(worker, vigil_env):
    env = dict(vigil_env, VIGIL_QUEUE_MAX_LENGTH="9")
    done = subprocess.run(vigil("capture", "--camera", "c406", "--source", "synthetic", "--max-frames", "3"),
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 78, done.stderr
    assert "queue 'fall' already exists on the broker with x-max-length=4" in done.stderr
    assert "rabbitmqctl delete_queue fall" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_worker_whose_queues_differ_exits_with_advice(worker, vigil_env):
    env = dict(vigil_env, VIGIL_QUEUE_MAX_LENGTH="9")
    done = subprocess.run(celery("worker", "-Q", "fall", "-P", "threads", "--without-mingle", "--without-gossip"),
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 78, done.stderr[-2000:]
    assert "cannot start the worker: queue 'fall' already exists on the broker with x-max-length=4" in done.stderr


def test_corrupt_jpeg_task_returns_an_error_and_the_worker_keeps_serving(worker, vigil_env):
    from vigil.app import create_app
    from vigil.frames import encode_frame
    from vigil.settings import Settings

    app = create_app(Settings.load(environ={k: v for k, v in vigil_env.items() if k.startswith("VIGIL_")}))
    good = encode_frame(np.full((48, 64, 3), 90, np.uint8), camera="bad", session=1, seq=1,
                        captured_at=time.time(), quality=80, max_bytes=1 << 20).to_payload()
    corrupt = dict(good, seq=0, jpeg=good["jpeg"][:40] + b"\x00" * 60)
    bad_result = app.send_task("vigil.detect.fall", args=(corrupt,), queue="fall").get(timeout=30)
    good_result = app.send_task("vigil.detect.fall", args=(good,), queue="fall").get(timeout=30)
    json_result = app.send_task("vigil.detect.fall", args=(good,), queue="fall", serializer="json").get(timeout=30)
    assert json_result["status"] == "ok"  # JSON is accepted too (kombu carries the bytes as base64)
    assert bad_result["status"] == "error" and "corrupt JPEG" in bad_result["error"]
    assert good_result["status"] == "ok"
    assert "fall on frame bad#0 failed" in worker.output()


FLOWER_USER = ("vigil", "s3cret-for-the-test")


def test_flower_as_documented_is_private_and_lists_our_task_types(worker, spawn, vigil_env):
    # Given Flower started with the README's command: loopback only, and a login
    port = free_port()
    flower = spawn(celery("flower", "--address=127.0.0.1", f"--port={port}", "--basic-auth=" + ":".join(FLOWER_USER)),
                   vigil_env, "flower")
    url = f"http://127.0.0.1:{port}"
    deadline, types = time.monotonic() + 60, []
    capture = None
    while time.monotonic() < deadline:
        try:
            if capture is None:
                requests.get(url, timeout=1)
                capture = subprocess.Popen(vigil("capture", "--camera", "flower", "--source", "synthetic",
                                                 "--max-frames", "20"), env=vigil_env)
            types = requests.get(f"{url}/api/task/types", auth=FLOWER_USER, timeout=2).json()["task-types"]
            if {f"vigil.detect.{name}" for name in ALGORITHM_QUEUES} <= set(types):
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    if capture is not None:
        capture.wait(30)
    # Then it listens on loopback only
    listening = {c.laddr.ip for c in psutil.Process(flower.popen.pid).net_connections("inet")
                 if c.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}, listening
    # and neither its pages nor its worker-control API answer without the login
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(f"{url}/api/workers", timeout=5).status_code == 401
    assert requests.post(f"{url}/api/worker/pool/restart/x", timeout=5).status_code == 401
    # and with it, it shows our task types and, by broadcast inspection, our worker
    assert {f"vigil.detect.{name}" for name in ALGORITHM_QUEUES} <= set(types), types
    workers: dict = {}
    while time.monotonic() < deadline and not any(name.startswith("itest-") for name in workers):
        with contextlib.suppress(requests.RequestException, ValueError):
            workers = requests.get(f"{url}/api/workers", params={"refresh": "1"}, auth=FLOWER_USER, timeout=10).json()
        time.sleep(0.5)
    assert any(name.startswith("itest-") for name in workers), workers


def test_capture_stops_cleanly_on_sigterm(worker, spawn, vigil_env):
    capture = spawn(vigil("capture", "--camera", "sig", "--source", "synthetic", "--loop"), vigil_env, "capture")
    capture.wait_for("streaming", 30)
    time.sleep(1)
    assert capture.stop() == 0
    assert "received SIGTERM: stopping" in capture.output()


def test_capture_survives_a_broker_restart(private_rabbitmq, private_worker, private_streamer, spawn, private_env):
    # Given the whole pipeline on a RabbitMQ node and a Redis of the test's own
    _, url = private_streamer
    capture = spawn(vigil("capture", "--camera", "restart", "--source", "synthetic", "--fps", "10", "--loop"),
                    private_env, "capture")
    wait_for_camera(url, "restart")
    # When that broker stops for 3 s and comes back
    private_rabbitmq.ctl("-q", "stop_app")
    try:
        time.sleep(3)
        assert capture.popen.poll() is None, capture.output()
    finally:
        private_rabbitmq.ctl("-q", "start_app")
    # Then frames flow again, and the capture said what it dropped meanwhile
    back = time.monotonic()
    before = requests.get(f"{url}/cameras/restart/results", timeout=5).json()["frame"]["seq"]
    deadline, resumed_after = back + 60, None
    while time.monotonic() < deadline:
        frame = requests.get(f"{url}/cameras/restart/results", timeout=5).json()["frame"]
        if frame["seq"] > before:
            resumed_after = time.monotonic() - back
            break
        time.sleep(0.2)
    assert resumed_after is not None, capture.output()[-2000:]
    assert capture.popen.poll() is None
    assert "dropped" in capture.output()
    print(f"frames flowed again {resumed_after:.1f} s after RabbitMQ came back")


def test_the_users_worker_command_with_the_default_pool_serves_a_subset_of_queues(clean, spawn, vigil_env):
    # Given exactly the documented command, default (prefork) pool, for two of the four queues
    worker = spawn(celery("worker", "-Q", "fall,blink", "-l", "INFO", "-n", f"prefork-{time.time_ns()}@%h"),
                   vigil_env, "prefork-worker")
    worker.wait_for("ready.", 60)
    # When a camera sends ten frames for those two algorithms
    done = subprocess.run(vigil("capture", "--camera", "subset", "--source", "synthetic", "--algorithms", "fall,blink",
                                "--max-frames", "10"), env=vigil_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # Then every frame gets both results in Redis, and no other queue was needed
    client = redis.Redis.from_url(vigil_env["VIGIL_RESULT_BACKEND"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(client.keys("celery-task-meta-vigil.subset.*")) < 20:
        time.sleep(0.2)
    keys = client.keys("celery-task-meta-vigil.subset.*")
    assert len(keys) == 20
    results = [json.loads(client.get(key))["result"] for key in keys]
    assert {r["algorithm"] for r in results} == {"fall", "blink"} and all(r["status"] == "ok" for r in results)


def test_the_worker_says_when_it_is_ready_and_what_it_consumes(clean, spawn, vigil_env):
    worker = spawn(celery("worker", "-Q", "fall,blink", "-P", "threads", "-n", f"hello-{time.time_ns()}@%h"),
                   vigil_env, "hello-worker")
    # at Celery's default log level, where its own "ready." is not shown
    worker.wait_for("ready: consuming blink, fall from amqp://", 60)


def test_a_typo_in_the_queue_list_names_the_valid_queues(clean, vigil_env):
    done = subprocess.run(celery("worker", "-Q", "fall,blnk", "-P", "solo"), env=vigil_env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 78, done.stderr[-2000:]
    assert "unknown queue 'blnk'; known queues: blink, emotion, fall, pose. Did you mean 'blink'?" in done.stderr
    assert "task_create_missing_queues" not in done.stderr + done.stdout


def test_celery_finds_vigil_from_any_directory_with_and_without_a_celeryconfig(services, vigil_env, tmp_path):
    # Given a directory holding a user's celeryconfig.py, and one without
    with_config, without = tmp_path / "site", tmp_path / "elsewhere"
    with_config.mkdir(), without.mkdir()
    (with_config / "celeryconfig.py").write_text("worker_max_tasks_per_child = 77\n")
    for cwd, expected in ((with_config, True), (without, False)):
        # When `celery -A vigil` runs there
        done = subprocess.run(celery("report"), env=vigil_env, capture_output=True, text=True, timeout=60, cwd=cwd)
        # Then it finds Vigil's app, with the user's setting only where the file is
        assert done.returncode == 0, done.stderr[-2000:]
        assert "task_serializer: 'msgpack'" in done.stdout
        assert ("worker_max_tasks_per_child: 77" in done.stdout) is expected


def test_a_celeryconfig_that_asks_for_pickle_stops_the_worker_with_the_reason(services, vigil_env, tmp_path):
    (tmp_path / "celeryconfig.py").write_text("accept_content = ['pickle', 'json']\n")
    done = subprocess.run(celery("worker", "-Q", "fall"), env=vigil_env, capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 78, done.stderr[-2000:]
    assert "accept_content cannot be overridden: only msgpack and JSON are accepted" in done.stderr
    assert "Traceback" not in done.stderr
