"""The [auth] table: validation with messages naming the key, the open-bind refusal, and `vigil user`'s edits."""

from __future__ import annotations

import functools
import os
import tomllib

import pytest
from click.testing import CliRunner

from vigil.cli import main
from vigil.config import load_site_config
from vigil.errors import ConfigError
from vigil.stream.auth import AuthConfig, check_exposure
from vigil.stream.credentials import hash_password, token_digest, verify_password
from vigil.stream.userfile import add_token, add_user

SITE = """\
# the site file of the care home (comments must survive)
[vigil]
broker_url = "amqp://guest:guest@127.0.0.1:5672//"  # the broker

[auth]
allowed_hosts = ["vigil.example.org"]
"""


@functools.cache
def a_hash() -> str:
    return hash_password("long enough password")


def test_defaults_have_no_login_and_two_public_paths():
    config = AuthConfig()
    assert not config.enabled and config.public_paths == ("/healthz", "/metrics") and not config.https
    assert config.is_public("/healthz") and not config.is_public("/healthz/x") and not config.is_public("/")


def test_a_public_prefix_ends_with_a_slash():
    assert AuthConfig(public_paths=("/static/",)).is_public("/static/app.js")


@pytest.mark.parametrize("table, message", [
    ({"user": {}}, "[auth] user: Extra inputs are not permitted"),
    ({"users": {"alice": {"password_hash": "plain"}}}, "[auth] users.alice.password_hash: Value error, must be an "
                                                        "argon2 hash"),
    ({"users": {"alice": {"password": "x"}}}, "[auth] users.alice.password: Extra inputs are not permitted"),
    ({"users": {"a.b": {"password_hash": "$argon2id$x"}}}, "[auth] users: Value error, bad name 'a.b'"),
    ({"tokens": {"ci": {"sha256": "abc"}}}, "[auth] tokens.ci.sha256: Value error, must be 64 lowercase hex"),
    ({"public_paths": ["healthz"]}, "[auth] public_paths: Value error, 'healthz' must start with '/'"),
    ({"public_paths": ["/"]}, "cannot be public"),
    ({"session_lifetime_s": 0}, "[auth] session_lifetime_s: Input should be greater than 0"),
    ({"tls_cert": "/c.pem"}, "tls_cert and tls_key go together"),
])
def test_a_bad_table_is_explained_naming_the_file_and_key(table, message):
    with pytest.raises(ConfigError) as caught:
        AuthConfig.from_mapping(table, "/etc/vigil.toml")
    assert str(caught.value).startswith("/etc/vigil.toml: ") and message in str(caught.value)


def read_auth_config(path):
    return load_site_config(path, environ={}).access()


def test_the_site_file_loader_reads_the_auth_table(tmp_path):
    site = tmp_path / "vigil.toml"
    site.write_text(SITE)
    assert read_auth_config(site).allowed_hosts == ("vigil.example.org",)
    with pytest.raises(ConfigError, match="does not exist"):
        read_auth_config(tmp_path / "missing.toml")
    site.write_text('[auth]\nallowed_hostz = ["x"]\n')
    with pytest.raises(ConfigError, match=r"vigil.toml: \[auth\] allowed_hostz"):
        read_auth_config(site)


@pytest.mark.parametrize("host, users, insecure, refused", [
    ("127.0.0.1", False, False, False),
    ("localhost", False, False, False),
    ("::1", False, False, False),
    ("127.0.0.5", False, False, False),
    ("0.0.0.0", False, False, True),
    ("::", False, False, True),
    ("192.168.1.20", False, False, True),
    ("vigil.lan", False, False, True),
    ("0.0.0.0", True, False, False),
    ("0.0.0.0", False, True, False),
])
def test_serving_beyond_loopback_needs_a_login_or_insecure(host, users, insecure, refused):
    config = AuthConfig.from_mapping({"users": {"alice": {"password_hash": a_hash()}}} if users else {}, "f")
    if refused:
        with pytest.raises(ConfigError, match=f"vigil stream: refusing to serve on {host} without a login.*--insecure"):
            check_exposure(host, config, insecure, "vigil stream")
    else:
        check_exposure(host, config, insecure, "vigil stream")


def test_passwords_are_argon2_and_checked_for_unknown_users_too():
    config = AuthConfig.from_mapping({"users": {"alice": {"password_hash": a_hash()}}}, "f")
    assert a_hash().startswith("$argon2id$") and "long enough" not in a_hash()
    assert config.check_password("alice", "long enough password")
    assert not config.check_password("alice", "long enough password ")
    assert not config.check_password("bob", "long enough password")
    assert not verify_password("$argon2id$garbage", "x")


def test_add_user_appends_a_table_and_keeps_the_rest_of_the_file(tmp_path):
    site = tmp_path / "vigil.toml"
    site.write_text(SITE)
    os.chmod(site, 0o640)
    add_user(site, "alice", a_hash())
    text = site.read_text()
    assert text.startswith(SITE)  # comments and layout untouched
    data = tomllib.loads(text)
    assert data["auth"]["users"]["alice"]["password_hash"] == a_hash()
    assert data["vigil"]["broker_url"].startswith("amqp://") and os.stat(site).st_mode & 0o777 == 0o640
    assert AuthConfig.from_mapping(data["auth"], str(site)).check_password("alice", "long enough password")


def test_a_second_user_of_the_same_name_is_refused_and_the_file_kept(tmp_path):
    site = tmp_path / "vigil.toml"
    site.write_text(SITE)
    add_user(site, "alice", a_hash())
    before = site.read_text()
    with pytest.raises(ConfigError, match="a user named 'alice' exists already"):
        add_user(site, "alice", a_hash())
    assert site.read_text() == before


def test_a_file_that_cannot_take_a_table_is_left_alone_with_what_to_add(tmp_path):
    site = tmp_path / "vigil.toml"
    site.write_text('[vigil]\n[auth]\nusers = { bob = { password_hash = "$argon2id$x" } }\n')
    before = site.read_text()
    with pytest.raises(ConfigError, match=r"add it by hand:\n\[auth.users.alice\]"):
        add_user(site, "alice", a_hash())
    assert site.read_text() == before and not [p for p in tmp_path.iterdir() if p.name != "vigil.toml"]


def test_a_new_site_file_is_private_and_loads(tmp_path):
    site = tmp_path / "new.toml"
    add_token(site, "backup", token_digest("secret"))
    assert os.stat(site).st_mode & 0o777 == 0o600
    config = read_auth_config(site)
    assert config.token_name("secret") == "backup" and config.token_name("secrets") is None


def test_vigil_user_add_and_token_from_the_command_line(tmp_path):
    site = tmp_path / "vigil.toml"
    runner = CliRunner()
    added = runner.invoke(main, ["user", "add", "alice", "--config", str(site), "--password-stdin"],
                          input="a fine password\n")
    assert added.exit_code == 0, added.output
    again = runner.invoke(main, ["user", "add", "alice", "--config", str(site), "--password-stdin"],
                          input="a fine password\n")
    assert again.exit_code == 78 and "a user named 'alice' exists already" in again.output
    short = runner.invoke(main, ["user", "add", "bob", "--config", str(site), "--password-stdin"], input="short\n")
    assert short.exit_code == 78 and "at least 8 characters" in short.output
    prompted = runner.invoke(main, ["user", "add", "carol", "--config", str(site)],
                             input="another password\nanother password\n")
    assert prompted.exit_code == 0, prompted.output
    made = runner.invoke(main, ["user", "token", "ci"], env={"VIGIL_CONFIG": str(site)})
    token = made.stdout.strip().splitlines()[0]
    config = read_auth_config(site)
    assert config.token_name(token) == "ci" and token not in site.read_text()
    assert config.check_password("alice", "a fine password") and config.check_password("carol", "another password")


def test_vigil_user_help_teaches():
    text = CliRunner().invoke(main, ["user", "--help"]).output
    assert "vigil user add alice --config" in text and "Authorization: Bearer" in text and "--insecure" in text


def test_relative_certificate_paths_are_taken_from_the_site_files_folder(tmp_path):
    config = AuthConfig.from_mapping({"tls_cert": "tls/cert.pem", "tls_key": "/abs/key.pem"}, "/etc/vigil/vigil.toml")
    assert (str(config.tls_cert), str(config.tls_key)) == ("/etc/vigil/tls/cert.pem", "/abs/key.pem")
