"""Malformed task messages are described, so the worker can refuse them instead of dying."""

import pytest

from vigil.tasks.validation import task_message_problem

HEADERS = {"id": "vigil.door.1.2.fall", "task": "vigil.detect.fall"}


@pytest.mark.parametrize(
    "headers, payload, problem",
    [
        (HEADERS, [[{"seq": 1}], {}, {"callbacks": None}], None),
        (HEADERS, ([{"seq": 1}], {}, None), None),
        (HEADERS, {"args": []}, "the body must be [args, kwargs, embed], got a dict"),
        (HEADERS, [[], {}], "got a list of 2"),
        (HEADERS, "hello", "got a str"),
        (HEADERS, 7, "got a int"),
        (HEADERS, None, "got a NoneType"),
        (HEADERS, ["x", {}, {}], "args must be a list, got str"),
        (HEADERS, [[], [], {}], "kwargs must be a map with string keys"),
        (HEADERS, [[], {1: 2}, {}], "kwargs must be a map with string keys"),
        (HEADERS, [[], {}, 7], "embed must be a map, got int"),
        ({"task": "vigil.detect.fall"}, [[], {}, {}], "header 'id' must be a string, got NoneType"),
        ({"id": 5, "task": "vigil.detect.fall"}, [[], {}, {}], "header 'id' must be a string, got int"),
        (None, [[], {}, {}], "headers must be a map, got NoneType"),
    ],
)
def test_task_message_problem(headers, payload, problem):
    found = task_message_problem(headers, payload)
    assert (found is None) if problem is None else (problem in found), found


def test_our_tasks_check_messages_before_celery_unpacks_them():
    from celery.utils.imports import symbol_by_name

    from vigil.app import create_app
    from vigil.settings import Settings
    from vigil.tasks.validation import validating_strategy

    app = create_app(Settings.load(environ={}))
    for name in ("fall", "emotion", "pose", "blink"):
        # (a real worker builds and uses it in tests/integration/test_poison.py)
        assert symbol_by_name(app.tasks[f"vigil.detect.{name}"].Strategy) is validating_strategy
