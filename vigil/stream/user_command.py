"""``vigil user``: logins and API tokens for the streamer; `vigil.cli` adds it to the `vigil` group."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vigil.cli_common import EX_CONFIG
from vigil.errors import ConfigError

MIN_PASSWORD = 8


class _Refused(click.ClickException):
    exit_code = EX_CONFIG

    def show(self, file: object = None) -> None:
        click.echo(f"vigil: error: {self.message}", err=True)


config_option = click.option(
    "--config", "config", type=click.Path(dir_okay=False, path_type=Path), envvar="VIGIL_CONFIG",
    show_envvar=True, required=True, help="The site file (vigil.toml) to add to; created if missing.",
)


@click.group(epilog="""\b
Examples:
  vigil user add alice --config /etc/vigil/vigil.toml     # asks for the password twice
  printf '%s\\n' "$PW" | vigil user add bob --config vigil.toml --password-stdin
  vigil user token backup-script --config vigil.toml     # prints the token once
  curl -H "Authorization: Bearer vigil_..." https://vigil.example.org:8080/cameras
\b
The streamer (`vigil stream`, `vigil run`) reads [auth] from the same file (--config or
VIGIL_CONFIG) when it starts: restart it after adding a user. With a user or token it asks for
a login on every page but the public paths (/healthz, /metrics); with none it serves only on
127.0.0.1 unless told --insecure. To remove a user or token, delete its table from the file.
""")
def user() -> None:
    """Add logins (name and password) and API tokens for the streamer's web page and API.

    Only hashes are written to the site file: an argon2 hash of each password, a SHA-256
    digest of each token. Everything else in the file, comments included, is left as it is.
    """


@user.command(name="add")
@click.argument("name")
@config_option
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def add(name: str, config: Path, password_stdin: bool) -> None:
    """Add the login NAME (letters, digits, '-', '_') with a password of at least 8 characters."""
    from vigil.stream.credentials import hash_password
    from vigil.stream.userfile import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise _Refused(f"the password must have at least {MIN_PASSWORD} characters")
    try:
        add_user(config, name, hash_password(password))
    except ConfigError as exc:
        raise _Refused(str(exc)) from None
    click.echo(f"user {name} added to {config}; restart the streamer to use it", err=True)


@user.command(name="token")
@click.argument("name")
@config_option
def token(name: str, config: Path) -> None:
    """Create the API token NAME for scripts; print it once (only its digest is stored).

    Send it as `Authorization: Bearer <token>`. A lost token cannot be shown again: delete its
    [auth.tokens.NAME] table and create a new one.
    """
    from vigil.stream.credentials import new_token, token_digest
    from vigil.stream.userfile import add_token

    secret = new_token()
    try:
        add_token(config, name, token_digest(secret))
    except ConfigError as exc:
        raise _Refused(str(exc)) from None
    click.echo(secret)
    click.echo(f"token {name} added to {config}: keep it now, it is not shown again; restart the streamer",
               err=True)
