"""The durable event store on SQLite (the same code runs on PostgreSQL: tests/integration/test_event_store.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import incident_event
from tests.incidents import message
from vigil.detectors.base import event_id
from vigil.errors import EventStoreError
from vigil.stream.events import EventLog, as_event_dict
from vigil.stream.recorder import MemoryRecorder
from vigil.stream.store import EventStore
from vigil.stream.store_schema import database_url, sqlite_path


@pytest.fixture
def store(tmp_path):
    opened = EventStore(str(tmp_path / "events.sqlite3"))
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("sent", "state", "severity", "updates"),
    [
        pytest.param([("new", 10)], "new", "warning", ["new"], id="opened"),
        pytest.param([("new", 10), ("update", 40), ("end", 60)], "end", "critical", ["new", "update", "end"],
                     id="a whole lifecycle"),
        pytest.param([("new", 10), ("new", 10), ("end", 60), ("end", 60)], "end", "critical", ["new", "end"],
                     id="each message stored once"),
        pytest.param([("new", 10), ("end", 60), ("update", 40)], "end", "critical", ["new", "update", "end"],
                     id="a late update never reopens it"),
        pytest.param([("update", 40), ("new", 10)], "update", "critical", ["new", "update"],
                     id="messages out of order keep the newest state"),
    ],
)
def test_an_incident_keeps_its_latest_state_and_every_message_once(store, sent, state, severity, updates):
    for type_, seq in sent:
        store.append(message(type_, seq))
    (incident,) = store.page().incidents
    assert (incident["type"], incident["severity"]) == (state, severity)
    stored = store.get(incident["id"])
    assert stored is not None and [update["type"] for update in stored["updates"]] == updates


def test_two_streamers_on_one_file_store_one_incident(tmp_path):
    # Given two streamers' stores on one SQLite file, both seeing the same camera (same event ids)
    first, second = (EventStore(str(tmp_path / "shared.sqlite3")) for _ in range(2))
    try:
        for store in (first, second):
            cursors = [store.append(message(type_, seq)) for type_, seq in (("new", 10), ("end", 60))]
        # Then one incident, each message once, and both got the same cursors
        assert len(first.page().incidents) == 1
        assert [m.cursor for m in first.messages_after(0)] == cursors == [1, 2]
    finally:
        first.close()
        second.close()


def test_pages_are_newest_first_filtered_and_resume_from_the_cursor(store):
    for index in range(7):
        store.append(message(start_seq=index * 100, seq=index * 100, start=1000.0 + index,
                             camera="door" if index % 2 == 0 else "hall"))
    store.append(message("end", 350, start_seq=300, start=1003.0, camera="hall"))
    # Given pages of 3
    starts, before = [], None
    while True:
        page = store.page(limit=3, before=before)
        starts += [incident["start"] for incident in page.incidents]
        if page.next is None:
            break
        before = page.next
    # Then every incident once, newest first
    assert starts == [1006.0, 1005.0, 1004.0, 1003.0, 1002.0, 1001.0, 1000.0]
    assert [i["start"] for i in store.page(camera="hall").incidents] == [1005.0, 1003.0, 1001.0]
    assert [i["start"] for i in store.page(since=1002.0, until=1004.0).incidents] == [1003.0, 1002.0]
    assert [i["start"] for i in store.page(camera="hall", open_only=True).incidents] == [1005.0, 1001.0]
    assert store.page(kind="drowsy").incidents == []
    with pytest.raises(ValueError):
        store.page(before="nonsense")


def test_acknowledgement_and_history_survive_reopening(tmp_path):
    path = str(tmp_path / "events.sqlite3")
    store = EventStore(path)
    store.append(message("new", 10))
    incident = store.acknowledge(message()["id"], "alice", 1234.5)
    assert incident is not None and incident["acknowledged"] == {"by": "alice", "at": 1234.5}
    assert store.acknowledge("evt_unknown", "alice", 1.0) is None
    store.close()
    # When the streamer restarts (a new store on the same file)
    reopened = EventStore(path)
    try:
        found = reopened.get(message()["id"])
        assert found is not None and found["acknowledged"] == {"by": "alice", "at": 1234.5}
        assert [m.event["type"] for m in reopened.messages_after(0)] == ["new"]
        assert reopened.get("evt_unknown") is None
    finally:
        reopened.close()


def test_events_are_stored_kept_recorded_and_announced_with_their_cursor():
    # Given the incident events the rules make (Event objects), one per incident here
    store, recorder, heard, stored = EventStore(":memory:"), MemoryRecorder(), [], []
    log = EventLog(store, recorder)
    log.subscribe(heard.append)
    log.subscribe_stored(lambda cursor, event: stored.append(cursor))
    for seq in range(3):
        log.publish(incident_event("door", seq, confidence=0.9))
    # Then each is stored, recorded and announced (with its cursor to the stored listeners)
    assert (log.count, log.incidents) == (3, 3) and [e["seq"] for e in heard] == [0, 1, 2]
    assert len(recorder.events) == 3 and stored == [1, 2, 3]
    incidents = store.page().incidents
    assert [i["seq"] for i in incidents] == [2, 1, 0] and {i["type"] for i in incidents} == {"new"}
    assert incidents[0]["id"] == incident_event("door", 2).id and incidents[0]["score"] == 0.9
    assert store.page(camera="hall").incidents == []


def test_a_message_without_a_lifecycle_becomes_an_incident_of_its_own():
    made = as_event_dict({"camera": "door", "algorithm": "fall", "kind": "fall", "seq": 7, "time": 1007.0,
                          "details": {"confidence": 0.6}})
    assert made["id"] == event_id("door", 0, "fall", 7)
    assert (made["type"], made["severity"], made["start"], made["score"]) == ("new", "info", 1007.0, 0.6)


@pytest.mark.parametrize(
    ("setting", "url", "path"),
    [
        ("vigil-events.sqlite3", "sqlite:///vigil-events.sqlite3", "vigil-events.sqlite3"),
        (":memory:", "sqlite://", None),
        ("sqlite:////var/lib/vigil/e.db", "sqlite:////var/lib/vigil/e.db", "/var/lib/vigil/e.db"),
        ("postgresql://vigil:pw@db/vigil", "postgresql+psycopg://vigil:***@db/vigil", None),
    ],
)
def test_the_setting_names_the_database(setting, url, path):
    assert database_url(setting).render_as_string(hide_password=True) == url
    assert sqlite_path(setting) == path


def test_an_unwritable_store_is_a_clear_error(tmp_path):
    with pytest.raises(EventStoreError, match="cannot open the event store sqlite:///.*missing/e.db"):
        EventStore(str(tmp_path / "missing" / "e.db"))


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        pytest.param({"camera": "door", "kind": "fall", "seq": 3, "time": 5.0, "details": {"d": np.float32(1.5)}},
                     {"type": "new", "severity": "info", "start": 5.0, "start_seq": 3, "details": {"d": 1.5}},
                     id="numpy values become plain JSON"),
        pytest.param({**message(), "severity": None, "score": None}, {"severity": "info", "score": 0.0},
                     id="missing values get defaults"),
        pytest.param({"camera": "door", "kind": "fall", "time": 5.0}, None, id="no frame: refused"),
        pytest.param({**message(), "type": "restart"}, None, id="unknown type: refused"),
    ],
)
def test_messages_are_made_plain_and_complete_or_refused(sent, expected):
    if expected is None:
        with pytest.raises(ValueError):
            as_event_dict(sent)
        return
    made = as_event_dict(sent)
    assert {key: made[key] for key in expected} == expected
    assert set(made) >= set(message())


def test_a_malformed_message_is_dropped_and_the_next_one_stored():
    store = EventStore(":memory:")
    log = EventLog(store)
    log.publish({"camera": "door", "kind": "fall"})
    log.publish(message())
    assert [i["id"] for i in store.page().incidents] == [message()["id"]] and log.backlog() == 0
