"""Capture daemons for the cameras of a site file (``vigil capture --config``, ``vigil run --config``)."""

from __future__ import annotations

import sys
from typing import Any

from vigil.capture.daemon import CaptureDaemon
from vigil.capture.dispatch import FrameDispatcher
from vigil.capture.motion import MotionGate
from vigil.config import CameraConfig, SiteConfig


def camera_daemon(site: SiteConfig, name: str, dispatcher: FrameDispatcher, *, fps: float | None = None,
                  loop: bool = False, **options: Any) -> CaptureDaemon:
    """The capture daemon of camera ``name``; ``fps`` and ``loop`` from flags win over the file.

    Raises:
        ConfigError: no such camera.
    """
    camera: CameraConfig = site.camera(name)
    motion = MotionGate(camera.motion_threshold, camera.motion_hold_s) if camera.motion_gating else None
    rates = camera.rates(site.settings.algorithms)
    return CaptureDaemon(
        camera=name, source=camera.source, algorithms=tuple(rates), dispatcher=dispatcher, settings=site.settings,
        fps=fps or camera.fps, loop=loop or camera.loop, rates=rates, motion=motion,
        masks=[tuple(polygon) for polygon in camera.masks], **options,
    )


def child_command(config: str, camera: str, flags: list[str]) -> list[str]:
    """The command line of one camera's supervised capture process."""
    return [sys.executable, "-m", "vigil.cli", "capture", "--config", config, "--camera", camera, *flags]
