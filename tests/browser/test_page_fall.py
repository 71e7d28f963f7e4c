"""End to end, as a carer sees it: a real fall clip through the real processes becomes an alert card
whose snapshot loads and whose clip plays in Chromium.

`vigil capture` (the corridor fall clip, looped so frames keep coming after the fall and the clip
can be finished), a worker running the real fall detector, `vigil stream` with its events API.

NEEDS-EVENTS-API: skipped while the streamer's `/events` is the old list (no "next" cursor, no
incident ids); it runs once the events store (events-store) and incident rules (events-core) are
merged, with nothing to change here.
"""

from __future__ import annotations

import pytest
import requests

from tests.integration.conftest import DATA_DIR, start_worker, unavailable, vigil

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.detectors]

CLIP = DATA_DIR / "fall" / "fall_corridor_walker_640x360.mp4"  # onset at frame 86 (labels.json)


def serves_the_events_api(url: str) -> bool:
    body = requests.get(f"{url}/events", params={"limit": "1"}, timeout=5).json()
    return "next" in body


def test_a_fall_becomes_an_alert_card_with_a_snapshot_and_a_clip_that_plays(
        streamer, spawn, vigil_env, page, artifacts):
    if not CLIP.exists():
        unavailable(f"test footage missing: {CLIP} (set VIGIL_DATA_DIR)")
    _, url = streamer
    assert serves_the_events_api(url)
    # Given the real fall detector, with queues long enough that a busy machine drops no frame
    env = {k: v for k, v in vigil_env.items() if k != "VIGIL_DETECTOR_OVERRIDE"}
    env.update(VIGIL_QUEUE_MAX_LENGTH="1000", VIGIL_MAX_FRAME_AGE="60")
    start_worker(spawn, env)
    page.goto(url)

    # When the corridor clip plays (the woman falls at about 3 s)
    spawn(vigil("capture", "--camera", "corridor", "--source", str(CLIP), "--algorithms", "fall", "--loop"),
          env, "capture")

    # Then an alert card for the fall appears, live, with a snapshot that loads
    card = "#open li.card"
    page.wait_for_selector(card, timeout=120_000)
    assert "Fall" in page.locator(card).first.inner_text()
    assert "corridor" in page.locator(card).first.inner_text()
    page.wait_for_function(f"document.querySelector('{card} img.thumb')?.naturalWidth > 0", timeout=30_000)
    page.screenshot(path=str(artifacts / "fall-card.png"), full_page=True)

    # And its clip plays once written (a few seconds after the fall)
    page.locator(card).first.click()
    page.wait_for_selector("#detail[open]")
    page.wait_for_function("document.getElementById('detail-clip').getAttribute('src')", timeout=60_000)
    page.wait_for_function("document.getElementById('detail-clip').readyState >= 2", timeout=30_000)
    page.evaluate("document.getElementById('detail-clip').play()")
    page.wait_for_function("document.getElementById('detail-clip').currentTime > 0.2", timeout=30_000)
    page.screenshot(path=str(artifacts / "fall-detail.png"))

    # When it is acknowledged, the acknowledgement is stored: a new page load still shows it
    event_id = page.locator(card).first.get_attribute("data-id")
    page.click("#detail-ack")
    page.wait_for_selector(f"#open li.card[data-id='{event_id}'] .acked")
    page.reload()
    page.wait_for_selector(f"li[data-id='{event_id}'] .acked")
