"""Queues, routes and Celery configuration are declared in one place and bounded."""

import pytest

from vigil.app import create_app
from vigil.celery_config import build
from vigil.errors import UnknownDetectorError
from vigil.queues import mismatch_message, task_name
from vigil.settings import Settings


@pytest.fixture
def settings():
    return Settings.load(environ={"VIGIL_QUEUE_MAX_LENGTH": "3", "VIGIL_MAX_FRAME_AGE": "1.5"})


def test_each_algorithm_has_its_task_routed_to_its_queue(settings):
    config = build(settings)
    for algorithm in settings.algorithms:
        route = config["task_routes"][task_name(algorithm)]
        assert route["queue"] == algorithm and route["routing_key"] == algorithm
    assert [queue.name for queue in config["task_queues"]] == list(settings.algorithms)
    assert config["task_create_missing_queues"] is False


def test_queues_are_bounded_drop_head_with_ttl(settings):
    for queue in build(settings)["task_queues"]:
        assert queue.queue_arguments == {"x-max-length": 3, "x-overflow": "drop-head", "x-message-ttl": 1500}


def test_pickle_is_never_accepted_and_frames_are_transient(settings):
    config = build(settings)
    assert config["task_serializer"] == "msgpack"
    assert "pickle" not in config["accept_content"] and "pickle" not in config["result_accept_content"]
    assert config["task_default_delivery_mode"] == "transient"
    assert config["worker_prefetch_multiplier"] == 1 and config["task_acks_late"] is True
    assert config["result_expires"] == settings.result_expires
    assert config["worker_send_task_events"] is True


def test_app_registers_one_task_per_algorithm(settings):
    app = create_app(settings)
    assert {task_name(name) for name in settings.algorithms} <= set(app.tasks)


def test_two_apps_keep_their_own_settings():
    first = create_app(Settings.load(environ={"VIGIL_DETECTOR_OVERRIDE": "null"}))
    second = create_app(Settings.load(environ={}))
    assert first.tasks[task_name("fall")] is not second.tasks[task_name("fall")]


def test_unknown_algorithm_is_refused_with_suggestion():
    with pytest.raises(UnknownDetectorError, match=r"unknown algorithm 'blinks'.*Did you mean 'blink'"):
        create_app(Settings.load(environ={"VIGIL_ALGORITHMS": "fall,blinks"}))


@pytest.mark.parametrize(
    "text, theirs, ours",
    [
        ("Queue.declare: (406) PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'fall' in "
         "vhost '/': received the value '3' of type 'signedint' but current is none", "(not set)", "3"),
        ("Queue.declare: (406) PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'fall' in "
         "vhost '/': received '3' but current is '4'", "4", "3"),
        ("Queue.declare: (406) PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'fall' in "
         "vhost '/': received none but current is the value '4' of type 'long'", "4", "(not set)"),
    ],
)
def test_queue_mismatch_message_names_argument_and_fix(settings, text, theirs, ours):
    message = mismatch_message(text, settings)
    assert f"queue 'fall' already exists on the broker with x-max-length={theirs}" in message
    assert f"ask for x-max-length={ours}" in message
    assert "rabbitmqctl delete_queue fall" in message
