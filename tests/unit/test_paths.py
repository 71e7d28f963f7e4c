"""Output paths are checked before any work starts."""

import pytest

from vigil.errors import ConfigError
from vigil.paths import check_writable, check_writable_dir


def test_a_new_file_in_a_writable_folder_is_fine(tmp_path):
    assert check_writable(tmp_path / "report.json", "--report") == tmp_path / "report.json"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing" / "r.json", "the folder '.*missing' does not exist"),
        (lambda d: d, "is a directory, not a file"),
    ],
)
def test_bad_paths_are_named_with_the_reason(tmp_path, make, message):
    with pytest.raises(ConfigError, match=f"--report '.*': {message}"):
        check_writable(make(tmp_path), "--report")


def test_a_path_that_cannot_be_written_is_refused_and_nothing_is_left_behind(tmp_path):
    # /sys is mounted read-only here, even for root
    with pytest.raises(ConfigError, match=r"--record '/sys/vigil-record.jsonl': cannot be written"):
        check_writable("/sys/vigil-record.jsonl", "--record")


def test_checking_a_new_file_does_not_leave_it_behind(tmp_path):
    check_writable(tmp_path / "events.sqlite3", "VIGIL_EVENTS_URL")
    assert list(tmp_path.iterdir()) == []


def test_a_media_folder_is_created_and_checked(tmp_path):
    assert check_writable_dir(tmp_path / "media" / "events", "VIGIL_MEDIA_DIR").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="VIGIL_MEDIA_DIR '.*file': is a file, not a folder"):
        check_writable_dir(tmp_path / "file", "VIGIL_MEDIA_DIR")
    with pytest.raises(ConfigError, match="VIGIL_MEDIA_DIR '/sys/vigil-media': cannot be written"):
        check_writable_dir("/sys/vigil-media", "VIGIL_MEDIA_DIR")
