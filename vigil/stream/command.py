"""`vigil stream`: join results per frame, run the event rules, serve the live view.

Kept beside the streamer; `vigil.cli` adds it to the `vigil` group.
"""

from __future__ import annotations

import threading
from pathlib import Path

import click

from vigil.cli_common import (
    add_options,
    backend_option,
    broker_option,
    check_event_paths,
    check_output,
    config_option,
    fail,
    load_settings,
    load_site,
    serve_options,
    serving_auth,
    stop_on_signals,
)
from vigil.errors import VigilError


@click.command(epilog="""\b
Examples:
  vigil stream                       # http://127.0.0.1:8080
  vigil user add alice --config vigil.toml && vigil stream --host 0.0.0.0 --config vigil.toml
\b
Then open / in a browser, or: curl localhost:8080/cameras; curl localhost:8080/metrics
(with a login: curl -H "Authorization: Bearer $TOKEN" ..., a token from `vigil user token`).
HTTPS: set tls_cert and tls_key in the file's [auth] table.
""")
@add_options(serve_options)
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path),
              help="Append every joined frame and event to this file as JSON lines (audits, benchmarks).")
@config_option
@broker_option
@backend_option
@click.pass_context
def stream(ctx: click.Context, host: str, port: int, insecure: bool, record: Path | None, config: Path | None,
           broker_url: str | None, result_backend: str | None) -> None:
    """Join every algorithm's result per frame, run the event rules, serve the live view.

    May run on another machine than capture and workers: it needs only the broker
    (for frames) and the result backend (for results and events).
    """
    from vigil.stream.recorder import JsonLinesRecorder
    from vigil.stream.service import distributed_streamer

    site = load_site(config, broker_url=broker_url, result_backend=result_backend) if config else None
    settings = site.settings if site else load_settings(ctx, broker_url=broker_url, result_backend=result_backend)
    auth = serving_auth(site, host, insecure, "vigil stream")
    check_output(record, "--record")
    check_event_paths(settings)
    stop = threading.Event()
    stop_on_signals(stop)
    try:
        service = distributed_streamer(settings, host, port, JsonLinesRecorder(record) if record else None, site,
                                       auth)
        service.start()
    except VigilError as exc:
        fail(exc)
    click.echo(f"vigil stream: serving on {service.url}", err=True)
    stop.wait()
    service.stop()
