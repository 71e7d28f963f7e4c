"""The alert panel in Chromium: cards, snapshot, clip, acknowledge, history, live updates, escaping.

The streamer is the real app and core, in process; NEEDS-EVENTS-API: the events routes come from
``fixture_events.FixtureEvents`` until the events store lands (see that module).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import InProcessStreamer
from tests.browser.fixture_events import FixtureEvents, incident, make_clip
from tests.helpers import feed_frame
from vigil.messages import DetectionResult, TaskRef

pytestmark = pytest.mark.browser

EVIL = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "fall.webm")


@pytest.fixture
def events(clip_file) -> FixtureEvents:
    return FixtureEvents(clip_file)


@pytest.fixture
def app_streamer(events) -> Iterator[InProcessStreamer]:
    with InProcessStreamer([events.middleware]) as running:
        show_frame(running, "door", 1)
        yield running


def show_frame(streamer: InProcessStreamer, camera: str, seq: int) -> None:
    streamer.core.on_feed(feed_frame(seq, ("fall",), camera=camera))
    streamer.core.on_result(TaskRef(camera, 1, seq, "fall"), DetectionResult(
        camera=camera, session=1, seq=seq, algorithm="fall", status="ok",
        observation={"width": 32, "height": 24, "people": []}))


def texts(page: Any, selector: str) -> list[str]:
    return [text.strip() for text in page.locator(selector).all_text_contents()]


def test_an_open_incident_is_a_card_whose_snapshot_loads_and_whose_clip_plays(page, app_streamer, events, artifacts):
    # Given an open critical fall, an older open warning, and one that ended
    now = time.time()
    events.add(incident("evt_old_warning", "hall", "looking_away", "warning", start=now - 7200))
    events.add(incident("evt_fall", "door", "fall", "critical", start=now - 125,
                        details={"down_for_s": 125.0, "track": 3, "lean": 84.2, "down_seq": 91,
                                 "confidence": 0.87}))  # the score, said once
    events.add(incident("evt_ended", "door", "drowsy", "info", start=now - 600, end=now - 590))

    # When the page opens
    page.goto(app_streamer.url)

    # Then the open incidents are cards, the most severe first, with camera, kind and "time ago"
    page.wait_for_selector("#open li.card[data-id='evt_fall']")
    assert [card.get_attribute("data-id") for card in page.locator("#open li.card").all()] == [
        "evt_fall", "evt_old_warning"]
    card = page.locator("#open li.card[data-id='evt_fall']")
    assert texts(page, "#open li.card[data-id='evt_fall'] .severity") == ["critical"]
    assert "Fall" in card.inner_text() and "door" in card.inner_text() and "2 min ago" in card.inner_text()
    # and the snapshot thumbnail really loaded
    page.wait_for_function("document.querySelector(\"li.card[data-id='evt_fall'] img.thumb\").naturalWidth > 0")
    # and the ended incident is in the history only, with how long it lasted
    assert "lasted 10 s" in page.locator("#history li[data-id='evt_ended']").inner_text()
    page.screenshot(path=str(artifacts / "alerts.png"), full_page=True)

    # When the card is clicked, the details and the clip show, and the clip plays
    card.click()
    page.wait_for_selector("#detail[open]")
    page.wait_for_function("document.getElementById('detail-clip').readyState >= 2", timeout=15000)
    page.evaluate("document.getElementById('detail-clip').play()")
    page.wait_for_function("document.getElementById('detail-clip').currentTime > 0.3", timeout=15000)
    facts = list(zip(texts(page, "#detail-facts dt"), texts(page, "#detail-facts dd"), strict=True))
    assert facts == [("Camera", "door"), ("Severity", "critical"), ("Confidence", "87 %"), ("Down for", "2 min 5 s"),
                     ("Track", "3"), ("Lean", "84°"), ("Down frame", "91")]
    assert texts(page, "#detail-updates li")[0].endswith("Started, severity critical, confidence 87 % "
                                                          "(down for 2 min 5 s, track 3, lean 84°, down frame 91)")
    page.screenshot(path=str(artifacts / "detail.png"))

    # When it is acknowledged, the request says it comes from the page and the card shows it
    page.click("#detail-ack")
    page.wait_for_selector("#open li.card[data-id='evt_fall'] .acked")
    assert [headers.get("X-Vigil-Request") for headers in events.acks] == ["1"]
    assert page.locator("#detail-ack").is_hidden()
    page.screenshot(path=str(artifacts / "acknowledged.png"), full_page=True)

    # And no raw JSON is shown anywhere
    body = page.inner_text("body")
    assert "{" not in body and '"' not in body, body
    assert page.console_errors == []


def test_a_live_event_appears_and_clears_without_reload(page, app_streamer, events, artifacts):
    # Given the page open with no incident
    page.goto(app_streamer.url)
    page.wait_for_selector("#live-status[data-state='live']")
    assert page.locator("#no-open").is_visible()

    # When a fall starts: a card appears, live
    fall = incident("evt_live", "door", "fall", "warning", start=time.time() - 1)
    events.publish(fall)
    page.wait_for_selector("#open li.card[data-id='evt_live']")
    assert page.title() == "(1) Vigil"

    # When it escalates and then ends: the card turns critical, then leaves the open list
    events.publish({**fall, "type": "update", "severity": "critical", "seq": 40, "time": time.time()})
    page.wait_for_selector("#open li.card[data-id='evt_live'][data-severity='critical']")
    events.publish({**fall, "type": "end", "severity": "critical", "end": fall["start"] + 31.0})
    page.wait_for_selector("#open li.card", state="detached")
    assert "lasted 31 s" in page.locator("#history li[data-id='evt_live']").inner_text()
    page.screenshot(path=str(artifacts / "after-end.png"), full_page=True)


def test_history_filters_by_camera_and_kind(page, app_streamer, events):
    now = time.time()
    events.add(incident("evt_door_fall", "door", "fall", start=now - 300, end=now - 290))
    events.add(incident("evt_hall_fall", "hall", "fall", start=now - 200, end=now - 190))
    events.add(incident("evt_hall_drowsy", "hall", "drowsy", start=now - 100, end=now - 95))
    events.add(incident("evt_last_week", "hall", "drowsy", start=now - 3 * 86400, end=now - 3 * 86400 + 5))
    page.goto(app_streamer.url)

    def rows() -> list[str | None]:
        return [row.get_attribute("data-id") for row in page.locator("#history li").all()]

    page.wait_for_selector("#history li[data-id='evt_door_fall']")
    assert rows() == ["evt_hall_drowsy", "evt_hall_fall", "evt_door_fall"]  # last 24 hours by default
    page.select_option("#filters select[name=camera]", "hall")
    page.wait_for_function("document.querySelectorAll('#history li').length === 2")
    page.select_option("#filters select[name=kind]", "drowsy")
    page.wait_for_function("document.querySelectorAll('#history li').length === 1")
    assert rows() == ["evt_hall_drowsy"]
    page.select_option("#filters select[name=period]", "604800")
    page.wait_for_function("document.querySelectorAll('#history li').length === 2")
    assert rows() == ["evt_hall_drowsy", "evt_last_week"]


def test_html_in_camera_names_and_event_details_is_shown_as_text(page, app_streamer, events, artifacts):
    # Given an event and a camera whose strings are markup (camera names are validated by the
    # live; this listing comes from a fixture to prove the page does not rely on it)
    events.add(incident("evt_evil", EVIL, "fall", "critical", details={"<b>note</b>": EVIL}))

    page.route("**/cameras", lambda route: route.fulfill(json={"cameras": [{
        "name": EVIL, "capture": {"state": "streaming"}, "latest_seq": 1, "latest_latency": 0.05,
        "latest_missing": [EVIL], "latest_errors": []}]}))

    page.goto(app_streamer.url)
    page.wait_for_selector("#open li.card[data-id='evt_evil']")
    page.wait_for_selector(".tile .tile-warning:visible")
    page.click("#open li.card[data-id='evt_evil']")
    page.wait_for_selector("#detail[open]")

    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x], b").count() == 0
    assert page.locator(".tile .camera-name").inner_text() == EVIL
    assert EVIL in page.locator("#open li.card .camera").inner_text()
    facts = dict(zip(texts(page, "#detail-facts dt"), texts(page, "#detail-facts dd"), strict=True))
    assert facts["<b>note</b>"] == EVIL
    page.screenshot(path=str(artifacts / "escaped.png"), full_page=True)


def test_an_open_detail_shows_the_clip_once_it_is_written(page, app_streamer, events):
    # Given an incident whose clip is not written yet
    events.add(incident("evt_fresh", "door", "fall", "warning", start=time.time() - 2, clip=False))
    page.goto(app_streamer.url)
    page.click("#open li.card[data-id='evt_fresh']")
    page.wait_for_selector("#detail-noclip:visible")
    assert page.locator("#detail-clip").is_hidden()
    assert page.locator("#detail-snapshot").is_visible()  # the snapshot stands in meanwhile

    # When the stream side writes it (no live message says so)
    for stored in events.log:
        stored["clip"] = "/events/evt_fresh/clip.webm"

    # Then the open detail finds it and it plays
    page.wait_for_selector("#detail-clip:visible", timeout=10_000)
    assert page.locator("#detail-noclip").is_hidden()
    page.wait_for_function("document.getElementById('detail-clip').readyState >= 2", timeout=15_000)
