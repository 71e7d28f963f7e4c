"""The site file vigil.toml: one schema, errors that name file, table and key, secrets never shown."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from vigil.cli import main
from vigil.config import DEFAULT_MOTION_THRESHOLD, load_site_config, redacted, schema_keys
from vigil.errors import ConfigError
from vigil.rates import DEFAULT_RATES
from vigil.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "vigil.toml"
DOOR = '[cameras.door]\nsource = "rtsp://user:pw@10.0.0.5/stream"\n'


def site_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigil.toml"
    path.write_text(text)
    return path


def load(tmp_path: Path, text: str, **environ: str):
    return load_site_config(site_file(tmp_path, text), environ=environ)


def test_the_example_loads_and_runs_three_cameras():
    site = load_site_config(EXAMPLE, environ={})
    assert list(site.cameras) == ["corridor", "desk", "room"]
    corridor = site.cameras["corridor"]
    assert corridor.rates(site.settings.algorithms) == {"fall": 15.0}
    assert corridor.motion_gating and corridor.masks and corridor.zones["floor"].rules == ("fall",)
    # a camera without algorithms runs every [vigil] algorithm at its measured default rate
    assert site.cameras["room"].rates(site.settings.algorithms) == {a: DEFAULT_RATES[a] for a in Settings().algorithms}
    data = Path(os.environ.get("VIGIL_DATA_DIR", ROOT.parent / "shared" / "data"))
    for camera in site.cameras.values():  # the example's clips are the shared ones
        assert camera.source.startswith("../shared/data/")
        assert not data.is_dir() or (data / camera.source.removeprefix("../shared/data/")).is_file(), camera.source


def test_a_full_camera(tmp_path):
    site = load(tmp_path, DOOR + """\
fps = 15
loop = true
algorithms = { fall = 5, pose = 15 }
motion_gating = true
masks = [[[0.7, 0.0], [1.0, 0.0], [1.0, 0.3], [0.7, 0.3]]]
[cameras.door.zones.floor]
points = [[0.0, 0.55], [1.0, 0.55], [1.0, 1.0], [0.0, 1.0]]
rules = ["fall"]
[cameras.door.rules.fall]
down_s = 2.0
[cameras.door.notify]
mqtt = true
webhooks = ["carers"]
[mqtt]
host = "127.0.0.1"
[[webhooks]]
name = "carers"
url = "https://example.org/hook"
secret = "s3cret-s3cret-s3cret"
[auth.users.alice]
password_hash = "$argon2id$xyz"
""")
    door = site.cameras["door"]
    assert (door.fps, door.loop, door.motion_threshold) == (15.0, True, DEFAULT_MOTION_THRESHOLD)
    assert door.rules == {"fall": {"down_s": 2.0}} and door.notify == {"mqtt": True, "webhooks": ["carers"]}
    assert site.webhooks[0]["name"] == "carers" and site.auth["users"]["alice"]


@pytest.mark.parametrize(
    "text, message",
    [
        (DOOR + "algorithms = { falll = 5 }\n",
         "[cameras.door] algorithms.falll: unknown algorithm; known: fall, emotion, pose, blink"),
        (DOOR + "fsp = 15\n", "[cameras.door] fsp: unknown key"),
        (DOOR + "fps = -1\n", "[cameras.door] fps: Input should be greater than 0"),
        (DOOR + "algorithms = { fall = 0 }\n", "[cameras.door] algorithms.fall: Input should be greater than 0"),
        (DOOR + "masks = [[[0, 0], [2, 0], [1, 1]]]\n", "[cameras.door] masks.0.1.0: Input should be less than"),
        (DOOR + "[cameras.door.zones.floor]\npoints = [[0, 0], [1, 0]]\n",
         "[cameras.door.zones.floor] points: List should have at least 3 items"),
        (DOOR + "[cameras.door.zones.floor]\npoints = [[0, 0], [1, 0], [1, 1]]\nrules = [\"fal\"]\n",
         "[cameras.door.zones.floor] rules.0: unknown algorithm"),
        (DOOR + "[cameras.door.zones.floor]\npoints = [[0, 0], [1, 0], [1, 1]]\ncolour = 1\n",
         "[cameras.door.zones.floor] colour: unknown key"),
        (DOOR + "[cameras.door.rules.blinks]\nx = 1\n", "[cameras.door.rules.blinks]: unknown algorithm"),
        ('[cameras.door]\nfps = 5\n', "[cameras.door] source: required"),
        ('[cameras."bad name"]\nsource = "0"\n', "[cameras.bad name]: bad camera name"),
        ("[camera.door]\nsource = 0\n", "unknown table [camera]; known: vigil, cameras, mqtt, webhooks, auth"),
        ("[vigil]\njpeg_qualty = 5\n", "[vigil] jpeg_qualty: unknown setting 'jpeg_qualty'"),
        ("[vigil]\njpeg_quality = 500\n", "bad value 500 for setting 'jpeg_quality'"),
        ('[vigil]\nalgorithms = "fall"\n' + DOOR + "algorithms = { blink = 15 }\n",
         "[cameras.door] algorithms.blink: not one of [vigil] algorithms (fall)"),
        ("webhooks = 3\n", "[webhooks]: Input should be a valid list"),
        (DOOR + '[cameras.door.notify]\nwebhooks = ["carers"]\n[[webhooks]]\nname = "family"\n',
         "[cameras.door.notify] webhooks: no [[webhooks]] named 'carers'; named: family"),
        ("[cameras\n", "is not valid TOML"),
    ],
)
def test_errors_name_the_file_the_table_and_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert str(tmp_path / "vigil.toml") in str(caught.value)
    assert message in str(caught.value)


def test_rule_options_are_validated_by_the_rule(tmp_path):
    with pytest.raises(ConfigError, match=r"\[cameras.door.rules.fall\] rule 'fall': unknown option 'downs' "
                                          r"\(did you mean 'down_s'\?\)"):
        load(tmp_path, DOOR + "[cameras.door.rules.fall]\ndowns = 1\n")
    load(tmp_path, DOOR + "[cameras.door.rules.fall]\ndown_s = 1\n")


def test_settings_precedence_still_holds_in_a_site_file(tmp_path):
    path = site_file(tmp_path, "[vigil]\njpeg_quality = 70\nqueue_max_length = 9\nresult_expires = 30\n" + DOOR)
    site = load_site_config(path, {"result_expires": 10}, environ={"VIGIL_QUEUE_MAX_LENGTH": "5"})
    assert (site.settings.jpeg_quality, site.settings.queue_max_length, site.settings.result_expires) == (70, 5, 10)
    # and Settings.load (what workers use through VIGIL_CONFIG) reads only its [vigil] table
    settings = Settings.load(environ={"VIGIL_CONFIG": str(path)})
    assert settings.jpeg_quality == 70


def test_a_flat_settings_file_is_still_a_site_file_without_cameras(tmp_path):
    site = load(tmp_path, "jpeg_quality = 70\n")
    assert site.settings.jpeg_quality == 70 and site.cameras == {}


def test_a_site_file_without_a_vigil_table_has_default_settings(tmp_path):
    path = site_file(tmp_path, DOOR)
    assert Settings.load(environ={"VIGIL_CONFIG": str(path)}) == Settings.load(environ={})


@pytest.mark.parametrize(
    "value, expected",
    [
        ({"source": "rtsp://user:pw@10.0.0.5/stream"}, {"source": "rtsp://user:***@10.0.0.5/stream"}),
        ({"secret": "s3cret", "url": "https://h/x"}, {"secret": "***", "url": "https://h/x"}),
        ({"users": {"alice": {"password_hash": "$argon2id$x"}}}, {"users": {"alice": {"password_hash": "***"}}}),
        ({"tokens": ["abc"]}, {"tokens": ["***"]}),
        ({"password": ""}, {"password": ""}),
    ],
)
def test_redacted(value, expected):
    assert redacted(value) == expected


def test_config_check_exits_0_or_78_with_the_message(tmp_path):
    good = CliRunner().invoke(main, ["config", "check", str(EXAMPLE)])
    assert good.exit_code == 0, good.output
    assert "valid; cameras: corridor (fall 15/s)" in good.output
    bad = CliRunner().invoke(main, ["config", "check", str(site_file(tmp_path, DOOR + "fsp = 1\n"))])
    assert bad.exit_code == 78
    assert "[cameras.door] fsp: unknown key" in bad.output
    assert "Traceback" not in bad.output


def test_vigil_settings_shows_the_cameras_with_secrets_redacted(tmp_path):
    path = site_file(tmp_path, '[vigil]\nbroker_url = "amqp://vigil:hunter2@rabbit//"\n' + DOOR +
                     '[[webhooks]]\nname = "carers"\nurl = "https://h/x"\nsecret = "s3cret-s3cret-s3cret"\n')
    result = CliRunner().invoke(main, ["settings", "--config", str(path)], env={"VIGIL_CONFIG": None})
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "s3cret" not in result.output and ":pw@" not in result.output
    site = json.loads(result.output[result.output.index("{"):])
    assert site["cameras"]["door"]["source"] == "rtsp://user:***@10.0.0.5/stream"
    assert site["cameras"]["door"]["algorithms"] == DEFAULT_RATES
    assert site["webhooks"] == [{"name": "carers", "url": "https://h/x", "secret": "***"}]


def test_the_configuration_doc_lists_every_key():
    doc = (ROOT / "docs" / "configuration.md").read_text()
    missing = [key for key in schema_keys() if f"`{key}`" not in doc]
    assert not missing, f"docs/configuration.md lacks: {missing}"
    # and its default-rate table is the code's
    for algorithm, rate in DEFAULT_RATES.items():
        assert re.search(rf"\| `{algorithm}` \| {rate:g} \|", doc), algorithm
