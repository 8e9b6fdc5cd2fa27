"""``bessgym env ids / describe``: the registered environments, their stages and their named action and
observation entries (:mod:`bessgym.envs.layout`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from bessgym.envs.layout import Layout
from experiments.cli._common import console, fail

app = typer.Typer(help="Environments: registered ids, their stages and named action and observation entries.",
                  no_args_is_help=True)


def _ids() -> list[str]:
    import gymnasium as gym

    import bessgym  # noqa: F401  (registers the ids)

    return sorted(k for k in gym.registry if k.startswith("bessgym/"))


@app.command("ids")
def ids_cmd() -> None:
    """The registered env ids."""
    for env_id in _ids():
        console.print(env_id)


def _layout_table(title: str, layout: Layout) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("entry", "position", "meaning"):
        table.add_column(column)
    for name, position, meaning in layout.rows():
        table.add_row(name, position, meaning)
    return table


@app.command("describe")
def describe_cmd(env_id: Annotated[str, typer.Argument(help="A registered id, e.g. bessgym/SingleBESS-v1.")]) -> None:
    """The env's stages, and for each stage the agent decides its action entries by name, then the observation's
    entries; agents index them as ``action[env.action_layout(stage).intraday_trade]`` and
    ``obs[env.observation_layout.soc]``."""
    import gymnasium as gym

    known = _ids()
    if env_id not in known:
        renamed = env_id.removesuffix("-v0") + "-v1"
        hint = (f"it is {renamed} now (mFRR widened its spaces)" if renamed in known
                else f"registered: {', '.join(known)}")
        raise fail(ValueError(f"unknown env id {env_id!r}; {hint}"))
    env = gym.make(env_id).unwrapped
    runner, n = env.runner, env.simulator.n
    stages = sorted(runner.agent_stages)
    console.print(f"[bold]{env_id}[/]: {type(env).__name__}, {n} asset{'s' if n > 1 else ''}; the agent decides "
                  f"{', '.join(s.name.lower() for s in stages)} (other stages are delegated or skipped)")
    per_asset = env.action_space.shape[0] // runner.width
    console.print(f"action: Box{env.action_space.shape}, {runner.width} entries"
                  + (f" per asset, asset-major over {per_asset} assets" if per_asset > 1 else "")
                  + "; a stage reads the first of them")
    groups: dict[tuple, tuple[Layout, list[str]]] = {}  # the auctions share one layout: one table
    for stage in stages:
        layout = env.action_layout(stage)
        groups.setdefault(tuple(layout.rows()), (layout, []))[1].append(stage.name.lower())
    for layout, names in groups.values():
        console.print(_layout_table(f"action at {', '.join(names)}", layout))
    console.print(f"observation: Box{env.observation_space.shape}")
    console.print(_layout_table("observation", env.observation_layout))
