"""Rule options: typed, defaults, refused with a message naming the key; documented in docs/events.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vigil.detectors.options import BlinkOptions, EmotionOptions, FallOptions, HeadPoseOptions, RuleOptions
from vigil.detectors.registry import BUILTIN, create_rule, symbol_by_path, validate_rule_options
from vigil.errors import ConfigError, UnknownDetectorError
from vigil.stream.rules import CameraRules, RuleRunner

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_defaults_of_the_issue() -> None:
    assert FallOptions().critical_after_s == 30
    assert BlinkOptions().drowsy_closed_s == 2 and BlinkOptions().perclos_window_s == 60
    assert set(EmotionOptions().distress_labels) == {"sad", "angry", "fear"}
    assert HeadPoseOptions().away_s == 2


def test_options_reach_the_rule() -> None:
    rule = create_rule("fall", "door", {"critical_after_s": 5, "cooldown_s": 0})
    assert rule.options.critical_after_s == 5 and rule.options.cooldown_s == 0  # type: ignore[attr-defined]
    assert create_rule("pose", "door").options == HeadPoseOptions()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("algorithm", "options", "message"),
    [
        ("fall", {"critcal_after_s": 5}, r"rule 'fall': unknown option 'critcal_after_s' \(did you mean 'critical_"),
        ("fall", {"critical_after_s": -1}, r"rule 'fall': option 'critical_after_s': .*greater than 0.*got -1"),
        ("fall", {"critical_after_s": "soon"}, r"option 'critical_after_s': .*number"),
        ("blink", {"severity": "panic"}, r"option 'severity': .*'info', 'warning' or 'critical'"),
        ("emotion", {"distress_labels": ["sad", "bored"]}, r"option 'distress_labels.1'"),
        ("emotion", {"distress_on": 0.4}, r"distress_off \(0.5\) must be below distress_on \(0.4\)"),
        ("pose", {"cooldown_s": -2}, r"option 'cooldown_s'"),
    ],
)
def test_bad_options_name_the_key(algorithm: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_rule_options(algorithm, options)
    with pytest.raises(ConfigError, match=message):
        create_rule(algorithm, "door", options)


def test_unknown_algorithm() -> None:
    with pytest.raises(UnknownDetectorError, match="Did you mean 'fall'"):
        validate_rule_options("fal", {})


def test_the_rule_runner_checks_every_camera_at_start() -> None:
    RuleRunner({"door": CameraRules(options={"fall": {"critical_after_s": 10}}),
                "car": CameraRules(options={"blink": {}})})
    with pytest.raises(ConfigError, match=r"camera 'car': rule 'blink': unknown option 'perclos'"):
        RuleRunner({"door": CameraRules(options={"fall": {}}), "car": CameraRules(options={"blink": {"perclos": 0.2}})})


def models() -> list[type[RuleOptions]]:
    return [symbol_by_path(spec.options) for spec in BUILTIN.values() if spec.options]


@pytest.mark.parametrize("model", models(), ids=lambda m: m.__name__)
def test_every_option_is_documented_with_its_default(model: type[RuleOptions]) -> None:
    # docs/events.md has a table row per option: | `name` | default | meaning |
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"`{model.__name__}`")
    end = text.find("\n#", start)
    section = text[start : None if end < 0 else end]
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", section, re.MULTILINE))
    for name, field in model.model_fields.items():
        assert field.description, name
        assert name in rows, f"{model.__name__}.{name} missing from docs/events.md"
        default = field.default
        shown = ", ".join(default) if isinstance(default, tuple) else str(default)
        assert rows[name].strip().strip("`") == shown, (model.__name__, name)
