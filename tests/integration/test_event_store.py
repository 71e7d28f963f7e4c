"""The durable event store on SQLite and on a real PostgreSQL, from threads and from processes.

PostgreSQL comes from VIGIL_TEST_POSTGRES_URL (default: the `test` database on 127.0.0.1:5432);
the tests drop and create the store's tables there. Unreachable: skipped, or failed with CI=true.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter

import pytest

from tests.incidents import message
from tests.integration.conftest import unavailable
from vigil.errors import EventStoreError
from vigil.stream.events import EventLog
from vigil.stream.store import EventStore
from vigil.stream.store_schema import metadata

pytestmark = pytest.mark.integration

POSTGRES_URL = os.environ.get("VIGIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
WRITER = [sys.executable, "-m", "tests.integration.event_writer"]


def _reset_postgres() -> None:
    try:
        store = EventStore(POSTGRES_URL)
    except EventStoreError as exc:
        unavailable(f"PostgreSQL unreachable at {POSTGRES_URL}: {exc}")
    metadata.drop_all(store.engine)
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def events_url(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "events.sqlite3")
        return
    _reset_postgres()
    yield POSTGRES_URL
    _reset_postgres()


def lifecycle(index: int) -> list[dict]:
    start_seq = index * 100
    common = {"start_seq": start_seq, "start": time.time() - 3600 + index}
    return [message("new", start_seq + 10, **common), message("update", start_seq + 30, **common),
            message("end", start_seq + 50, **common)]


def test_two_streamers_writing_at_once_store_each_incident_once(events_url):
    # Given two streamers watching the same camera: the same 30 incidents, written concurrently
    incidents = [lifecycle(index) for index in range(30)]
    stores = [EventStore(events_url), EventStore(events_url)]
    errors: list[BaseException] = []

    def stream(store: EventStore) -> None:
        try:
            for messages in incidents:
                for sent in messages:
                    store.append(sent)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=stream, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert not errors, errors
        # Then each incident once, ended, and each lifecycle message once
        page = stores[0].page(limit=100)
        assert len(page.incidents) == 30 and {i["type"] for i in page.incidents} == {"end"}
        messages = stores[1].messages_after(0)
        assert Counter((m.event["id"], m.event["type"]) for m in messages) == Counter(
            {(sent["id"], sent["type"]): 1 for messages in incidents for sent in messages})
        cursors = [m.cursor for m in messages]
        assert cursors == sorted(cursors) and len(set(cursors)) == 90
    finally:
        for store in stores:
            store.close()


def test_two_streamer_processes_on_one_camera_store_one_event(events_url, spawn, vigil_env, tmp_path):
    # Given two streamer processes that saw the same falls on the same camera (same ids, same frames)
    origin = str(time.time() - 600)
    writers = [spawn([*WRITER, "--falls", "2", "--origin", origin, "--exit"],
                     dict(vigil_env, VIGIL_EVENTS_URL=events_url, VIGIL_MEDIA_DIR=str(tmp_path / f"media{n}")),
                     f"writer{n}") for n in range(2)]
    for writer in writers:
        writer.wait_for("STORED", 180)
        assert writer.wait(60) == 0, writer.output()[-2000:]
    ids = json.loads(writers[0].output().split("STORED ", 1)[1].splitlines()[0])
    store = EventStore(events_url)
    try:
        # Then two incidents, not four, each with one new, one update and one end
        assert sorted(i["id"] for i in store.page().incidents) == sorted(ids)
        for event_id in ids:
            incident = store.get(event_id)
            assert incident is not None and [u["type"] for u in incident["updates"]] == ["new", "update", "end"]
            assert incident["snapshot"] and incident["clip"]
    finally:
        store.close()


def test_an_unreachable_database_is_reported_not_raised_raw():
    with pytest.raises(EventStoreError, match="cannot open the event store postgresql.*127.0.0.1:9"):
        EventStore("postgresql://vigil:secret@127.0.0.1:9/vigil")
    try:
        EventStore("postgresql://vigil:secret@127.0.0.1:9/vigil")
    except EventStoreError as exc:
        assert "secret" not in str(exc)


def test_messages_wait_while_the_store_fails_and_are_stored_in_order_after():
    _reset_postgres()
    store = EventStore(POSTGRES_URL)
    log = EventLog(store)
    heard: list[tuple[int | None, str]] = []
    log.subscribe_stored(lambda cursor, event: heard.append((cursor, event["type"])))
    try:
        log.publish(message("new", 10))
        # When the store fails (its tables are gone) during the update and the end
        metadata.drop_all(store.engine)
        log.publish(message("update", 30))
        log.publish(message("end", 50))
        # Then listeners still heard them (without a cursor) and they wait, counted
        assert heard == [(1, "new"), (None, "update"), (None, "end")] and log.backlog() == 2
        # And once the store is back, the next message stores the waiting ones first, in order
        metadata.create_all(store.engine)
        log.publish(message("new", 110, start_seq=100))
        assert log.backlog() == 0 and log.unstored == 0
        assert [(m.event["type"], m.event["seq"]) for m in store.messages_after(0)] == [
            ("update", 30), ("end", 50), ("new", 110)]
    finally:
        store.close()
        _reset_postgres()
