"""`vigil evaluate`: detectors and their event rules on labelled clips (:mod:`vigil.evaluation`).

Not kept in ``vigil/evaluation/``: importing that package loads OpenCV, which `vigil --help` must not.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vigil.cli_common import algorithms_option, fail, parse_algorithms
from vigil.errors import ConfigError
from vigil.logs import configure_logging


@click.command(epilog="Example: vigil evaluate --data ../shared/data --output docs/accuracy.md\n\n"
               "Any folder with a labels.json works; its format is in docs/labels.md.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=Path("../shared/data"), show_default=True, help="Folder with the clips and labels.json.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Also write the table here.")
@click.option("--rates", metavar="LIST",
              help="Instead: score each detector at these frame rates (e.g. 15,10,5,3,2), as capture would send it.")
@algorithms_option
@click.pass_context
def evaluate(ctx: click.Context, data_dir: Path, output: Path | None, rates: str | None,
             algorithms: str | None) -> None:
    """Run every detector and its event rule over labelled clips and print the accuracy table."""
    configure_logging("INFO")
    args = sys.argv[sys.argv.index("evaluate") + 1:] if "evaluate" in sys.argv else []
    command = " ".join(["vigil evaluate", *args]).strip()
    if rates is None:
        from vigil.evaluation import run_evaluation

        try:
            click.echo(run_evaluation(data_dir, output, command=command))
        except ConfigError as exc:
            fail(exc)
        return
    from vigil.evaluation.rates import measure_rates, render_rates

    try:
        values = [float(v) for v in rates.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter("a comma-separated list of frames per second", ctx, param_hint="'--rates'") from None
    names = parse_algorithms(ctx, algorithms) or ("fall", "blink", "pose", "emotion")
    try:
        text = render_rates(measure_rates(data_dir, names, values), command)
    except ConfigError as exc:
        fail(exc)
    if output is not None:
        output.write_text(text)
    click.echo(text)
