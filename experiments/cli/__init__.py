"""The ``bessgym`` command line (typer + rich): one module per command group, each a thin layer over the
functions in ``experiments/`` and ``bessgym`` that do the work."""

from __future__ import annotations

from typing import Annotated

import typer

from experiments.cli import benchmark, control, data, env, experiment, index, studies

app = typer.Typer(help="bessgym: a market-simulation gym for battery storage in the German power markets.",
                  no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)


def _version(value: bool) -> None:
    if value:
        from bessgym import __version__

        print(f"bessgym {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    """bessgym: a market-simulation gym for battery storage in the German power markets."""


app.add_typer(data.app, name="data")
app.add_typer(env.app, name="env")
app.command("index")(index.index_cmd)
app.command("multimarket")(index.multimarket_cmd)
for name in ("train", "evaluate", "compare", "sweep", "run"):
    app.command(name)(getattr(experiment, f"{name}_cmd"))
app.add_typer(benchmark.app, name="benchmark")
app.add_typer(studies.colocation_app, name="colocation")
app.add_typer(studies.portfolio_app, name="portfolio")
app.add_typer(control.app, name="control")
app.command("schedule")(control.schedule_cmd)
app.command("deploy")(control.deploy_cmd)
