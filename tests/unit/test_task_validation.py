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
        (HEADERS, [[], {}, {}], "takes one frame payload and no keyword arguments, got 0 argument(s)"),
        (HEADERS, [[{}, {}], {}, {}], "got 2 argument(s)"),
        (HEADERS, [[{}], {"x": 1}, {}], "got 1 argument(s) and 1 keyword(s)"),
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


def test_an_unhashable_task_name_is_an_unknown_task_not_a_crash():
    from vigil.tasks.validation import TaskStrategies

    strategies = TaskStrategies({"vigil.detect.fall": "strategy"})
    assert strategies["vigil.detect.fall"] == "strategy"
    for name in (["x"], {"a": 1}, "nope"):
        with pytest.raises(KeyError):  # what Celery's consumer answers with "unregistered task"
            strategies[name]


def test_workers_use_the_validating_consumer():
    from vigil.app import create_app
    from vigil.settings import Settings

    assert create_app(Settings.load(environ={})).conf.worker_consumer == "vigil.tasks.consumer:WorkerConsumer"
