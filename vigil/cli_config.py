"""`vigil settings` and `vigil config check`: what is configured, and whether a site file is valid."""

from __future__ import annotations

from pathlib import Path

import click

from vigil.cli_common import config_option, fail
from vigil.errors import ConfigError
from vigil.settings import Settings, describe_settings


@click.command(name="settings", epilog="With a site file, its cameras, [mqtt], [[webhooks]] and [auth] follow "
              "as JSON, secrets shown as ***.")
@config_option
def settings_command(config: Path | None) -> None:
    """List every setting, its VIGIL_* variable, default and current value (and the site file's cameras)."""
    import json

    from vigil.config import describe_site, load_site_config
    from vigil.redact import redact

    try:
        site = load_site_config(config) if config else None
        current = site.settings if site else Settings.load()
    except ConfigError as exc:
        fail(exc)
    for name, env, default, doc in describe_settings():
        value = getattr(current, name)
        value = ",".join(value) if isinstance(value, tuple) else value
        if isinstance(value, str):
            value = redact(value)  # a password in a URL is never printed
        click.echo(f"{env}\n    {doc}\n    default: {default!r}   current: {value!r}")
    if site is not None:
        click.echo(f"\n# {config}: cameras and the other tables (secrets redacted)")
        click.echo(json.dumps(describe_site(site), indent=2))


@click.group(name="config")
def config_group() -> None:
    """The site file (vigil.toml): check it before starting anything."""


@config_group.command(name="check", epilog="""\b
Examples:
  vigil config check vigil.toml && systemctl restart vigil-capture@door
\b
Exit status: 0 valid, 78 invalid (the message names the file, the table and the key).
""")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def config_check(file: Path) -> None:
    """Validate FILE (every table and key, the camera names, rates, polygons, rule options) and exit."""
    from vigil.config import load_site_config

    try:
        site = load_site_config(file)
    except ConfigError as exc:
        fail(exc)
    described = []
    for name, camera in site.cameras.items():
        rates = camera.rates(site.settings.algorithms).items()
        described.append(f"{name} ({', '.join(f'{a} {r:g}/s' if r else a for a, r in rates)})")
    cameras = "; ".join(described)
    click.echo(f"{file}: valid; cameras: {cameras or 'none'}")
