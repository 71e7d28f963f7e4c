"""Which result backend Celery is given, and how an expiry becomes whole seconds."""

from __future__ import annotations

import datetime

import pytest

from vigil.celery_config import build
from vigil.result_backend import BACKEND_PATH, _seconds, backend_url
from vigil.settings import Settings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", f"{BACKEND_PATH}+redis://127.0.0.1:6379/0"),
        ("rediss://host:6380/1", f"{BACKEND_PATH}+rediss://host:6380/1"),
        ("cache+memory://", "cache+memory://"),
        ("rpc://", "rpc://"),
    ],
)
def test_only_redis_backends_get_the_one_write_backend(url, expected):
    assert backend_url(url) == expected


def test_the_celery_configuration_names_it():
    settings = Settings.load(environ={"VIGIL_RESULT_BACKEND": "redis://127.0.0.1:6379/3"})
    assert build(settings)["result_backend"] == f"{BACKEND_PATH}+redis://127.0.0.1:6379/3"


@pytest.mark.parametrize(
    ("expires", "seconds"),
    [(None, 0), (0, 0), (60, 60), (2.5, 2), (0.2, 1), (datetime.timedelta(minutes=2), 120)],
)
def test_expiry_in_whole_seconds_never_rounds_to_forever(expires, seconds):
    assert _seconds(expires) == seconds
