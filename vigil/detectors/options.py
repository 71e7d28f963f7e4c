"""Each rule's thresholds, typed: what ``[cameras.<name>.rules.<algorithm>]`` in vigil.toml may set.

One pydantic model per built-in algorithm, every field documented with its default, unknown
keys refused (``extra="forbid"``). :func:`vigil.detectors.registry.validate_rule_options`
checks a mapping against the algorithm's model and raises :class:`~vigil.errors.ConfigError`
naming the key; docs/events.md lists every option. Kept apart from the rules so that reading
a site file never imports a detector (and its model runtime).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Severity = Literal["info", "warning", "critical"]

DEFAULT_COOLDOWN_S = 10.0


class RuleOptions(BaseModel):
    """What every rule has: the cooldown of its incidents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cooldown_s: float = Field(
        default=DEFAULT_COOLDOWN_S,
        ge=0,
        description="An incident of this camera and kind that re-triggers within this long after it cleared "
        "continues the same event (an `update`), and its `end` is sent only once this long has passed "
        "without a re-trigger.",
    )


class FallOptions(RuleOptions):
    """The ``fall`` algorithm: its ``fall`` incidents."""

    critical_after_s: float = Field(
        default=30.0,
        gt=0,
        description="Still down this long after the onset: severity rises to critical (an `update`).",
    )
    upright_angle: float = Field(
        default=30.0, gt=0, lt=90, description="A lean from vertical below this (degrees) is upright."
    )
    lying_angle: float = Field(
        default=50.0, gt=0, le=90, description="A lean at or beyond this (degrees) is lying or falling."
    )
    descent_s: float = Field(
        default=1.0, gt=0, description="The lean must pass `lying_angle` within this long of the last upright frame."
    )
    down_s: float = Field(
        default=1.0, gt=0, description="The person must still be seen lying this long after the descent."
    )
    drop_radii: float = Field(
        default=0.2, ge=0, description="The hips must drop this many body radii below where they were while upright."
    )
    lost_s: float = Field(default=3.0, gt=0, description="A body unseen this long is forgotten.")
    clear_s: float = Field(default=1.0, gt=0, description="Upright this long after a fall clears it.")
    start_score: float = Field(default=0.5, ge=0, le=1, description="Detector score needed to start following a body.")
    follow_score: float = Field(default=0.3, ge=0, le=1, description="Detector score needed to keep following it.")
    move_radii: float = Field(
        default=0.5, ge=0, description="A body counts as a person once its hips travel this many body radii."
    )
    moving_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Share of the background changing within 0.2 s for the camera to count as moving.",
    )
    settle_s: float = Field(
        default=0.5, ge=0, description="Decisions stay held this long after the camera stops moving."
    )


class BlinkOptions(RuleOptions):
    """The ``blink`` algorithm: blinks counted in its summary, ``drowsy`` incidents."""

    ratio: float = Field(
        default=0.6,
        gt=0,
        lt=1,
        description="Eyes count as closed below this share of the person's open-eye median EAR.",
    )
    reopen_ratio: float = Field(
        default=0.7, gt=0, lt=1, description="And open again at or above this share (hysteresis)."
    )
    window_s: float = Field(default=3.0, gt=0, description="How much open-eye history the median covers.")
    warmup_s: float = Field(default=0.2, ge=0, description="How much history a person needs before any closure counts.")
    closure_s: float = Field(default=1.0, gt=0, description="A closure this long is a long closure, not a blink.")
    hold_s: float = Field(
        default=0.5, gt=0, description="A closure interrupted by missing frames longer than this is dropped."
    )
    forget_s: float = Field(default=2.0, gt=0, description="A person unseen this long is forgotten.")
    drowsy_closed_s: float = Field(default=2.0, gt=0, description="Eyes closed this long: drowsy.")
    perclos_window_s: float = Field(
        default=60.0, gt=0, description="PERCLOS: share of this last stretch with eyes closed."
    )
    perclos_threshold: float = Field(
        default=0.15, gt=0, le=1, description="PERCLOS above this: drowsy (until it falls back to it or below)."
    )
    perclos_min_s: float = Field(
        default=30.0, gt=0, description="PERCLOS counts only once the person was watched this long within the window."
    )
    severity: Severity = Field(default="warning", description="Severity of `drowsy` incidents.")


class HeadPoseOptions(RuleOptions):
    """The ``pose`` algorithm: ``looking_away`` incidents."""

    alpha: float = Field(
        default=0.5, gt=0, le=1, description="Weight of the newest frame in the angle smoothing (1 = none)."
    )
    away_yaw: float = Field(default=35.0, gt=0, le=180, description="|yaw| beyond this (degrees) is looking away.")
    away_pitch: float = Field(default=30.0, gt=0, le=180, description="|pitch| beyond this (degrees) is looking away.")
    away_s: float = Field(default=2.0, gt=0, description="The head must stay turned away this long.")
    hold_s: float = Field(default=0.5, gt=0, description="The last pose is kept this long without a face.")
    severity: Severity = Field(default="warning", description="Severity of `looking_away` incidents.")


class EmotionOptions(RuleOptions):
    """The ``emotion`` algorithm: the expression in its summary, ``distress`` incidents."""

    half_life_s: float = Field(
        default=0.05,
        gt=0,
        description="Smoothing of the displayed label: a frame this old counts half as much as the newest.",
    )
    hold_s: float = Field(default=1.0, gt=0, description="The label is dropped after this long without a face.")
    distress_labels: tuple[Literal["sad", "angry", "fear", "disgust"], ...] = Field(
        default=("sad", "angry", "fear"), min_length=1, description="Expressions whose summed probability is distress."
    )
    distress_half_life_s: float = Field(
        default=1.0,
        gt=0,
        description="Smoothing of the distress probability (slower than the label's: flicker averages out).",
    )
    distress_on: float = Field(
        default=0.65, gt=0, le=1, description="Smoothed distress probability at which the timer starts."
    )
    distress_off: float = Field(
        default=0.5, ge=0, lt=1, description="Below this the timer resets and an open incident clears (hysteresis)."
    )
    distress_s: float = Field(
        default=5.0, gt=0, description="Distress held this long (never below `distress_off`) fires."
    )
    severity: Severity = Field(default="warning", description="Severity of `distress` incidents.")

    @model_validator(mode="after")
    def _off_below_on(self) -> EmotionOptions:
        if self.distress_off >= self.distress_on:
            raise ValueError(f"distress_off ({self.distress_off}) must be below distress_on ({self.distress_on})")
        return self
