"""An event clip as written by the media writer plays to its end in a headless Chromium ``<video>``.

Chromium (Debian's ``chromium``) loads a page from a loopback aiohttp server (files served with
Range support, as the streamer serves clips); the page's ``load`` event is held back by an image
the server answers only after the video could have ended, so ``--dump-dom`` shows what played.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from aiohttp import web

from tests.incidents import picture
from tests.integration.conftest import unavailable
from tests.integration.servers import free_port
from vigil.stream.mediafiles import write_clip

pytestmark = pytest.mark.integration

FRAMES, FPS = 45, 15.0  # a 3 s clip
HOLD_S = 8.0

PAGE = """<!doctype html><html><body>
<video id="v" src="clip.webm" muted autoplay playsinline></video><pre id="out">pending</pre>
<img src="/hold" alt="">
<script>
const v = document.getElementById('v'), out = document.getElementById('out');
v.addEventListener('error', () => out.textContent = 'error ' + (v.error && v.error.code));
v.addEventListener('ended', () => out.textContent =
  `ended ${v.videoWidth}x${v.videoHeight} duration ${v.duration.toFixed(2)} played ${v.played.end(0).toFixed(2)}`);
</script></body></html>"""


@pytest.fixture
def site(tmp_path) -> Iterator[str]:
    images = [cv2.imdecode(np.frombuffer(picture(seq), np.uint8), cv2.IMREAD_COLOR) for seq in range(FRAMES)]
    write_clip(tmp_path / "clip.webm", images, FPS)
    (tmp_path / "page.html").write_text(PAGE)

    async def hold(request: web.Request) -> web.Response:
        await asyncio.sleep(HOLD_S)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/hold", hold)
    app.router.add_static("/", tmp_path)
    port, ready, stop = free_port(), threading.Event(), threading.Event()

    def serve() -> None:
        async def main() -> None:
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.1)
            await runner.cleanup()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    yield f"http://127.0.0.1:{port}"
    stop.set()
    thread.join(10)


def test_a_clip_plays_to_its_end_in_chromium(site, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        unavailable("chromium is not installed (apt-get install chromium)")
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--autoplay-policy=no-user-gesture-required",
         "--dump-dom", f"{site}/page.html"], capture_output=True, text=True, timeout=90)
    found = re.search(r'<pre id="out">([^<]*)</pre>', done.stdout)
    assert found, done.stdout[-2000:] + done.stderr[-2000:]
    assert re.fullmatch(r"ended 640x360 duration 3\.\d\d played 3\.\d\d", found.group(1)), found.group(1)
