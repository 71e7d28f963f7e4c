"""The ``vigil`` command: the group, its epilog, and where each subcommand lives.

A command is kept beside the subsystem it runs when importing that package is cheap
(``vigil/capture/command.py``, ``vigil/stream/command.py``, ``vigil/stream/user_command.py``,
``vigil/bench/command.py``), else beside this module (``cli_run.py``, ``cli_config.py``,
``cli_evaluate.py``); what they share (exit codes, options, settings) is in ``cli_common.py``.
"""

from __future__ import annotations

import click

from vigil.bench.command import bench
from vigil.capture.command import capture
from vigil.cli_common import EX_CONFIG, EX_OK, EX_UNAVAILABLE, EX_USAGE
from vigil.cli_config import config_group, settings_command
from vigil.cli_evaluate import evaluate
from vigil.cli_run import run
from vigil.stream.command import stream
from vigil.stream.user_command import user

__all__ = ["EX_CONFIG", "EX_OK", "EX_UNAVAILABLE", "EX_USAGE", "main"]

MAIN_EPILOG = """\b
How the pieces fit:
  camera --> vigil capture --> RabbitMQ queues fall|emotion|pose|blink
         --> celery -A vigil worker -Q fall,emotion,pose,blink (any number, any machine)
         --> Redis results --> vigil stream (joins, events, live MJPEG view on HTTP)

\b
Try it on one machine, no RabbitMQ or Redis needed:
  vigil run --source synthetic --max-frames 300 --report report.json
  vigil run --source 0                      # webcam 0, open http://127.0.0.1:8080
\b
Distributed (RabbitMQ on 5672, Redis on 6379):
  celery -A vigil worker -Q fall,emotion,pose,blink
  vigil capture --camera door --source rtsp://10.0.0.7/stream --fps 15
  vigil stream --port 8080
  celery -A vigil flower --address=127.0.0.1 --basic-auth=admin:CHOOSE-ONE
\b
A whole site from one file (cameras, rates per algorithm, masks, zones, rule options):
  vigil config check vigil.toml
  vigil capture --config vigil.toml         # one supervised process per camera
  vigil run --config vigil.toml             # or everything in one process
Beyond one machine, log in (vigil user add NAME --config vigil.toml) and serve HTTPS
([auth] tls_cert, tls_key): `vigil user --help`.
\b
Every setting also comes from a VIGIL_* environment variable: `vigil settings`.
"""


@click.group(epilog=MAIN_EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="vigil")
def main() -> None:
    """Vigil: real-time fall, emotion, head-pose and blink detection on live video.

    Frames are captured, resized and JPEG-encoded once, sent as one Celery task per
    algorithm through bounded RabbitMQ queues (stale frames are dropped, never queued
    behind the live one), processed by any number of workers, joined per frame in
    order by the streamer, and served as an annotated live view with events.
    """


for command in (capture, stream, run, settings_command, config_group, evaluate, bench, user):
    main.add_command(command)


if __name__ == "__main__":
    main()
