"""Celery's settings live in the package; a user's celeryconfig overrides them, safely."""

from __future__ import annotations

import sys
import textwrap

import pytest

from vigil.app import create_app
from vigil.celery_config import user_overrides
from vigil.errors import ConfigError
from vigil.settings import Settings


@pytest.fixture
def user_config(tmp_path, monkeypatch):
    """Write a celeryconfig.py in a fresh directory first on the import path."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "celeryconfig", raising=False)

    def write(text: str) -> None:
        (tmp_path / "celeryconfig.py").write_text(textwrap.dedent(text))

    yield write
    sys.modules.pop("celeryconfig", None)


def test_a_user_setting_applies_on_top_of_vigils(user_config):
    user_config("""
        import os
        worker_max_tasks_per_child = 1000
        task_time_limit = 10
        def build(settings):  # an old Vigil celeryconfig: functions are not settings
            return {}
    """)
    app = create_app(Settings.load(environ={}))
    assert app.conf.worker_max_tasks_per_child == 1000 and app.conf.task_time_limit == 10
    assert app.conf.task_serializer == "msgpack"  # Vigil's own settings still hold


@pytest.mark.parametrize(
    "text, message",
    [
        ("worker_concurrencyy = 4", r"'worker_concurrencyy' is not a Celery setting"),
        ("accept_content = ['pickle']", r"accept_content cannot be overridden: only msgpack and JSON"),
        ("task_create_missing_queues = True", r"a typo in -Q must fail loudly"),
        ("raise RuntimeError('half-written file')", r"cannot import .*celeryconfig.py: half-written file"),
        ("import no_such_module_here", r"cannot import .*celeryconfig.py: No module named 'no_such_module_here'"),
    ],
)
def test_a_bad_user_config_is_refused_with_the_reason(user_config, text, message):
    user_config(text)
    with pytest.raises(ConfigError, match=message):
        create_app(Settings.load(environ={}))


def test_no_user_config_means_no_overrides(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    monkeypatch.delitem(sys.modules, "celeryconfig", raising=False)
    assert user_overrides("vigil_test_no_such_celeryconfig") == {}
