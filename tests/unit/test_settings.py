"""One settings object: defaults, file, environment, flags, and clear errors."""

import pytest

from vigil.errors import ConfigError
from vigil.settings import DEFAULT_QUEUE_MAX_LENGTH, Settings, describe_settings


def test_defaults():
    settings = Settings.load(environ={})
    assert settings.algorithms == ("fall", "emotion", "pose", "blink")
    assert settings.jpeg_quality == 80
    assert settings.max_frame_age == 2.0
    assert settings.result_expires == 60
    assert settings.queue_max_length == DEFAULT_QUEUE_MAX_LENGTH


def test_precedence_flag_over_env_over_file_over_default(tmp_path):
    config = tmp_path / "vigil.toml"
    config.write_text('[vigil]\njpeg_quality = 70\nqueue_max_length = 9\nresult_expires = 30\n')
    environ = {"VIGIL_CONFIG": str(config), "VIGIL_QUEUE_MAX_LENGTH": "5", "VIGIL_RESULT_EXPIRES": "20"}
    settings = Settings.load({"result_expires": 10, "frame_width": None}, environ=environ)
    assert settings.jpeg_quality == 70  # file
    assert settings.queue_max_length == 5  # env beats file
    assert settings.result_expires == 10  # flag beats env
    assert settings.frame_width == 640  # a None flag is ignored


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"VIGIL_JPEG_QUALITY": "101"}, r"jpeg_quality.*VIGIL_JPEG_QUALITY.*between 1 and 100"),
        ({"VIGIL_MAX_FRAME_AGE": "-1"}, r"max_frame_age.*must be > 0"),
        ({"VIGIL_QUEUE_MAX_LENGTH": "many"}, r"queue_max_length.*invalid literal"),
        ({"VIGIL_BROKER_URL": "localhost"}, r"broker_url.*must be a URL"),
        ({"VIGIL_ALGORITHMS": " , "}, r"at least one algorithm"),
        ({"VIGIL_JPEG_QUALTY": "80"}, r"unknown environment variable VIGIL_JPEG_QUALTY"),
        ({"VIGIL_TASK_EVENTS": "maybe"}, r"task_events.*must be true or false"),
        ({"VIGIL_CONFIG": "/nonexistent/vigil.toml"}, r"does not exist"),
    ],
)
def test_bad_values_name_the_setting(environ, message):
    with pytest.raises(ConfigError, match=message):
        Settings.load(environ=environ)


def test_bad_config_file(tmp_path):
    config = tmp_path / "vigil.toml"
    config.write_text("[vigil]\nnot_a_setting = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'not_a_setting'"):
        Settings.load(environ={"VIGIL_CONFIG": str(config)})
    config.write_text("[vigil\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(environ={"VIGIL_CONFIG": str(config)})


def test_the_scripts_own_variables_are_not_mistaken_for_unknown_settings():
    # .ci/run exports VIGIL_VENV to the whole suite; the tests read VIGIL_DATA_DIR and VIGIL_TEST_*
    environ = {"VIGIL_VENV": "/tmp/venv", "VIGIL_DATA_DIR": "/tmp/data", "VIGIL_TEST_BROKER_URL": "amqp://x//"}
    assert Settings.load(environ=environ) == Settings.load(environ={})


def test_algorithms_parse_and_deduplicate():
    settings = Settings.load(environ={"VIGIL_ALGORITHMS": "pose, fall,pose"})
    assert settings.algorithms == ("pose", "fall")


def test_vigil_settings_shows_every_setting_with_its_current_value():
    from click.testing import CliRunner

    from vigil.cli import main

    # Given one setting from the environment
    result = CliRunner().invoke(main, ["settings"], env={"VIGIL_QUEUE_MAX_LENGTH": "7"})
    assert result.exit_code == 0, result.output
    # Then every variable is listed with a description and its current value
    blocks = {}
    for block in result.output.strip().split("\nVIGIL_"):
        name, doc, values = block.removeprefix("VIGIL_").splitlines()
        blocks["VIGIL_" + name] = (doc.strip(), values)
    assert set(blocks) == {env for _, env, _, _ in describe_settings()}
    assert all(doc for doc, _ in blocks.values())
    assert blocks["VIGIL_QUEUE_MAX_LENGTH"][1].strip() == "default: '4'   current: 7"


def test_readme_documents_every_setting():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [env for _, env, _, _ in describe_settings() if f"`{env}`" not in readme]
    assert not missing, f"README.md lacks: {missing}"


def test_vigil_settings_never_prints_a_password():
    from click.testing import CliRunner

    from vigil.cli import main

    result = CliRunner().invoke(main, ["settings"], env={"VIGIL_BROKER_URL": "amqp://vigil:s3cret@rabbit:5672//",
                                                         "VIGIL_RESULT_BACKEND": "redis://:hunter2@redis:6379/0"})
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output and "hunter2" not in result.output
    assert "amqp://vigil:***@rabbit:5672//" in result.output and "redis://:***@redis:6379/0" in result.output
