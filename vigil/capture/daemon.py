"""The capture daemon: read a source, sample it, encode each frame once, send it.

Two threads per camera. The *reader* opens the source (reopening a failed camera with
capped exponential backoff), samples it at ``fps``, resizes and JPEG-encodes each
sampled frame once and leaves it in a one-frame mailbox. The *sender* takes the newest
frame from the mailbox and dispatches it. The reader never waits for the broker: when
the sender is busy or the broker is down, the older frame in the mailbox is replaced
and counted as dropped, so memory stays bounded and what is sent is always fresh.
With ``fast`` (benchmarks) the reader waits for the mailbox instead of dropping.

Each frame asks for the algorithms due at its media time (``rates``, see
:mod:`vigil.rates`), and for none when motion gating finds the scene still
(:mod:`vigil.capture.motion`); every frame still goes to the streamers for viewers.
When the sender is behind, the frame that replaces an unsent one also takes over the
algorithms it asked for, so a slow broker does not starve a low-rate algorithm.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vigil.backoff import Backoff
from vigil.capture.dispatch import FrameDispatcher
from vigil.capture.motion import MotionGate
from vigil.capture.sources import VideoSource, is_live, open_source
from vigil.errors import BrokerUnavailableError, CaptureError, FrameError, QueueMismatchError
from vigil.frames import Frame, Polygon, check_camera_name, encode_frame
from vigil.logs import RateLimitedLog
from vigil.messages import CameraState, CaptureStats
from vigil.rates import RateSchedule
from vigil.settings import Settings

log = logging.getLogger(__name__)

BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0
STATUS_INTERVAL = 1.0


class CaptureDaemon:
    """Captures one camera until its source ends, ``max_frames`` are sent, or ``stop`` is set.

    Args:
        camera: the camera's name (letters, digits, ``-``, ``_``).
        source: webcam index, URL, file path or ``synthetic``.
        algorithms: the algorithms to run (on every frame unless ``rates`` says otherwise).
        dispatcher: sends frames (owned by this daemon from now on).
        settings: frame size, JPEG quality, payload limit.
        fps: frames per second to sample; ``None`` keeps every frame of the source.
        max_frames: stop after this many frames were captured.
        loop: replay a file from the start when it ends.
        fast: do not pace a file at its own frame rate, and never drop (benchmarks).
        reconnect_timeout: give up on a live source after this many seconds of failing
            to open it; ``None`` retries forever.
        rates: frames per second per algorithm (``None`` for one: every frame); the
            algorithms run are then the keys of ``rates``.
        motion: skip detection on still frames (counted in ``stats.gated``).
        masks: polygons (normalized) the workers blank before detection.
    """

    def __init__(
        self,
        *,
        camera: str,
        source: str,
        algorithms: Sequence[str],
        dispatcher: FrameDispatcher,
        settings: Settings,
        fps: float | None = None,
        max_frames: int | None = None,
        loop: bool = False,
        fast: bool = False,
        reconnect_timeout: float | None = None,
        opener: Callable[[str], VideoSource] = open_source,
        rates: Mapping[str, float | None] | None = None,
        motion: MotionGate | None = None,
        masks: Sequence[Polygon] = (),
    ) -> None:
        self.camera = check_camera_name(camera)
        self.source_spec = source
        self.algorithms = tuple(rates) if rates is not None else tuple(algorithms)
        self.schedule = RateSchedule(rates if rates is not None else dict.fromkeys(self.algorithms))
        self.motion = motion
        self.masks: tuple[Polygon, ...] = tuple(tuple((float(x), float(y)) for x, y in polygon) for polygon in masks)
        self.dispatcher = dispatcher
        self.settings = settings
        self.fps = fps
        self.max_frames = max_frames
        self.loop = loop
        self.fast = fast
        self.reconnect_timeout = reconnect_timeout
        self.opener = opener
        self.session = time.time_ns() // 1_000_000
        self.stats = CaptureStats(camera=camera)
        self._mailbox: tuple[Frame, tuple[str, ...]] | None = None
        self._mailbox_changed = threading.Condition()
        self._reading_done = False
        self._drop_log = RateLimitedLog(log)
        self.fatal_error: Exception | None = None
        self.broker_error: str = ""  # the last reason a frame could not be sent

    # -- the reader -------------------------------------------------------------------

    def run(self, stop: threading.Event) -> CaptureStats:
        """Capture until done; returns the final counters.

        Raises:
            CaptureError: a file cannot be opened, or a live source kept failing past
                ``reconnect_timeout``.
            QueueMismatchError: the broker's queues have other arguments.
        """
        try:
            # Connected before the first frame: at 25 fps a first send that also opens the
            # connection takes longer than a frame, and the next frame would be dropped.
            self.dispatcher.connect()
        except BrokerUnavailableError as exc:
            log.warning("camera %s: %s; frames are dropped until it is back", self.camera, exc)
        sender = threading.Thread(target=self._send_loop, args=(stop,), name=f"send-{self.camera}", daemon=True)
        sender.start()
        try:
            self._read_loop(stop)
        except CaptureError as exc:
            self._set_state(CameraState.FAILED, str(exc))
            raise
        finally:
            with self._mailbox_changed:
                self._reading_done = True
                self._mailbox_changed.notify_all()
            sender.join(timeout=10)
            if self.stats.state not in (CameraState.FAILED, CameraState.ENDED):
                self._set_state(CameraState.STOPPED if stop.is_set() else CameraState.ENDED)
            self._send_status()
            self.dispatcher.close()
        if self.fatal_error is not None:
            raise self.fatal_error
        log.info(
            "camera %s done: %d captured, %d sent, %d dropped",
            self.camera, self.stats.captured, self.stats.sent, self.stats.dropped,
        )
        return self.stats

    def _read_loop(self, stop: threading.Event) -> None:
        while not stop.is_set() and not self._enough():
            source = self._open(stop)
            if source is None:
                return
            try:
                finished = self._play(source, stop)
            except CaptureError as exc:
                log.warning("camera %s: %s; reopening", self.camera, exc)
                self._set_state(CameraState.RECONNECTING, str(exc))
                self.stats.reconnects += 1
                continue
            finally:
                source.close()
            if finished and not self.loop:
                return

    def _open(self, stop: threading.Event) -> VideoSource | None:
        live = is_live(self.source_spec)
        backoff, failing_since = Backoff(base=BACKOFF_INITIAL, cap=BACKOFF_MAX), time.monotonic()
        while not stop.is_set():
            try:
                source = self.opener(self.source_spec)
            except CaptureError as exc:
                if not live:
                    raise
                waited = time.monotonic() - failing_since
                if self.reconnect_timeout is not None and waited >= self.reconnect_timeout:
                    raise CaptureError(
                        f"camera {self.camera}: gave up after {waited:.0f} s: {exc}"
                    ) from exc
                delay = backoff.next()
                if self.reconnect_timeout is not None:
                    # Never sleep past the deadline: --reconnect-timeout 5 gives up at about 5 s, not 8.
                    delay = min(delay, max(0.0, self.reconnect_timeout - waited))
                self._set_state(CameraState.RECONNECTING, str(exc))
                log.warning("camera %s unavailable: %s; retrying in %.1f s", self.camera, exc, delay)
                self._send_status()
                stop.wait(delay)
                continue
            self.stats.source = source.description
            self._set_state(CameraState.STREAMING)
            log.info("camera %s: streaming from %s (%s)", self.camera, source.description, self._rate(source))
            return source
        return None

    def _rate(self, source: VideoSource) -> str:
        """The rate frames are sent at, and the source's own when it differs."""
        native = f"{source.fps:g} fps" if source.fps else "unknown fps"
        if self.fps is None:
            return f"every frame, source at {native}"
        return f"sampling {self.fps:g} fps, source at {native}"

    def _play(self, source: VideoSource, stop: threading.Event) -> bool:
        """Read ``source`` until it ends (True) or we are told to stop (False)."""
        native_fps = source.fps or 30.0
        frame_period = 1.0 / native_fps
        sample_period = 1.0 / self.fps if self.fps else 0.0
        started = time.monotonic()
        # A file's frame i is at i / fps: the first one at 0, not one period in.
        media_time, next_sample = -frame_period, 0.0
        self.schedule.reset()  # media time starts again at 0 (a reopened or replayed source)
        if self.motion is not None:
            self.motion.reset()
        while not stop.is_set() and not self._enough():
            image = source.read()
            if image is None:
                return True
            if source.live:
                media_time = time.monotonic() - started
            else:
                media_time += frame_period
                if not self.fast:
                    # A file plays at its own frame rate, like a camera would deliver it.
                    stop.wait(max(0.0, started + media_time - time.monotonic()))
            if media_time + 1e-9 < next_sample:
                continue
            next_sample = max(next_sample + sample_period, media_time) if sample_period else 0.0
            self._capture(image, stop, self._asked(image, media_time))
        return False

    def _asked(self, image: Any, media_time: float) -> tuple[str, ...]:
        """The algorithms this frame asks for: those due, none when the scene is still."""
        if self.motion is not None and self.motion.still(image, media_time):
            self.stats.gated += 1
            return ()
        return self.schedule.due(media_time)

    def _capture(self, image: Any, stop: threading.Event, asked: tuple[str, ...] | None = None) -> None:
        asked = self.algorithms if asked is None else asked
        seq = self.stats.captured
        self.stats.captured += 1
        try:
            frame = encode_frame(
                image,
                camera=self.camera,
                session=self.session,
                seq=seq,
                captured_at=time.time(),
                quality=self.settings.jpeg_quality,
                width=self.settings.frame_width,
                height=self.settings.frame_height,
                max_bytes=self.settings.max_payload_bytes,
            )
        except FrameError as exc:
            self.stats.dropped += 1
            self._drop_log.warning("camera %s: frame %d dropped: %s", self.camera, seq, exc)
            return
        if self.masks:
            frame = dataclasses.replace(frame, masks=self.masks)
        with self._mailbox_changed:
            if self.fast:
                while self._mailbox is not None and not stop.is_set():
                    self._mailbox_changed.wait(0.1)
            if self._mailbox is not None:
                self.stats.dropped += 1  # the sender is behind: the newer frame wins, with both's algorithms
                unsent = self._mailbox[1]
                asked = tuple(name for name in self.algorithms if name in asked or name in unsent)
            self._mailbox = (frame, asked)
            self._mailbox_changed.notify_all()

    def _enough(self) -> bool:
        return self.max_frames is not None and self.stats.captured >= self.max_frames

    # -- the sender -------------------------------------------------------------------

    def _send_loop(self, stop: threading.Event) -> None:
        last_status = 0.0
        while True:
            with self._mailbox_changed:
                while self._mailbox is None and not self._reading_done:
                    self._mailbox_changed.wait(STATUS_INTERVAL / 2)
                    if time.monotonic() - last_status >= STATUS_INTERVAL:
                        break
                item, self._mailbox = self._mailbox, None
                self._mailbox_changed.notify_all()
                if item is None and self._reading_done:
                    return
            if item is not None:
                self._send(*item, stop)
            if time.monotonic() - last_status >= STATUS_INTERVAL:
                last_status = time.monotonic()
                self._send_status()

    def _send(self, frame: Frame, asked: tuple[str, ...], stop: threading.Event) -> None:
        try:
            self.dispatcher.send(frame, asked, self.stats)
        except QueueMismatchError as exc:
            log.error("camera %s: %s", self.camera, exc)
            self.fatal_error = exc
            stop.set()
        except BrokerUnavailableError as exc:
            self.broker_error = str(exc)
            self.stats.dropped += 1
            self._drop_log.warning(
                "camera %s: frame %d dropped: %s (%d dropped so far)",
                self.camera, frame.seq, exc, self.stats.dropped,
            )
        else:
            self.stats.sent += 1

    def _send_status(self) -> None:
        try:
            self.dispatcher.send_status(self.camera, self.session, self.stats)
        except (BrokerUnavailableError, QueueMismatchError):
            pass  # the frame path reports broker trouble; status is best effort

    def _set_state(self, state: str, error: str = "") -> None:
        if state != self.stats.state:
            log.info("camera %s: %s -> %s", self.camera, self.stats.state, state)
        self.stats.state, self.stats.error = state, error
