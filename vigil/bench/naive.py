"""The design Vigil replaces, rebuilt as a baseline: raw frames as JSON lists over pika.

A producer publishes ``json.dumps(frame.tolist())`` messages; a consumer polls with
``basic_get`` (busy-spinning when the queue is empty), rebuilds the array with
``np.array(..., dtype=np.uint8)`` and runs a null detector. Run as separate processes::

    python -m vigil.bench.naive consumer --count 10 --url amqp://...
    python -m vigil.bench.naive producer --count 10 --url amqp://... --source clip.mp4

The consumer prints one JSON line: frames, elapsed seconds, per-frame latencies.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator

import numpy as np

NAIVE_QUEUE = "vigil-bench-naive"


def pika_url(url: str) -> str:
    """kombu spells the default vhost ``//``; pika wants it quoted (``/%2F``)."""
    head, sep, vhost = url.partition("://")[2].partition("/")
    scheme = url.partition("://")[0].replace("pyamqp", "amqp")
    if vhost in ("", "/"):
        vhost = "%2F"
    return f"{scheme}://{head}/{vhost}"


def encode_naive(image: np.ndarray) -> bytes:
    return json.dumps(image.tolist()).encode()


def decode_naive(body: bytes) -> np.ndarray:
    return np.array(json.loads(body), dtype=np.uint8)


def frames_from(source: str, width: int, height: int) -> Iterator[np.ndarray]:
    """Frames resized as Vigil's capture would (height 0 keeps the aspect), looping a file."""
    import cv2

    from vigil.capture.sources import open_source
    from vigil.frames import target_size

    while True:
        video = open_source(source)
        try:
            while (image := video.read()) is not None:
                size = target_size(image.shape[1], image.shape[0], width, height)
                yield cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        finally:
            video.close()


def produce(url: str, count: int, source: str, width: int, height: int, rate: float | None) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(pika_url(url)))
    channel = connection.channel()
    channel.queue_declare(NAIVE_QUEUE)
    frames = frames_from(source, width, height)
    for seq in range(count):
        started = time.time()
        body = json.dumps({"seq": seq, "t": started, "frame": next(frames).tolist()})
        channel.basic_publish("", NAIVE_QUEUE, body.encode())
        if rate:
            time.sleep(max(0.0, 1.0 / rate - (time.time() - started)))
    connection.close()


def consume(url: str, count: int, timeout: float) -> dict[str, object]:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(pika_url(url)))
    channel = connection.channel()
    channel.queue_declare(NAIVE_QUEUE)
    latencies: list[float] = []
    empty_polls = 0
    first = None
    deadline = time.monotonic() + timeout
    while len(latencies) < count and time.monotonic() < deadline:
        method, _, body = channel.basic_get(NAIVE_QUEUE, auto_ack=True)
        if method is None:
            empty_polls += 1
            continue
        message = json.loads(body)
        image = np.array(message["frame"], dtype=np.uint8)
        float(image[::16, ::16].mean())  # the null detector
        now = time.time()
        first = first if first is not None else message["t"]
        latencies.append(now - message["t"])
    elapsed = time.time() - first if first is not None else float("nan")
    connection.close()
    return {"frames": len(latencies), "elapsed": elapsed, "latencies": latencies, "empty_polls": empty_polls}


def purge(url: str) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(pika_url(url)))
    channel = connection.channel()
    channel.queue_declare(NAIVE_QUEUE)
    channel.queue_purge(NAIVE_QUEUE)
    connection.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", choices=("producer", "consumer"))
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--source", default="synthetic")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=0, help="0 keeps the aspect ratio")
    parser.add_argument("--rate", type=float, default=None, help="frames per second (default: as fast as possible)")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    if args.role == "producer":
        produce(args.url, args.count, args.source, args.width, args.height, args.rate)
    else:
        print(json.dumps(consume(args.url, args.count, args.timeout)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
