"""``python -m experiments.cli``: the ``bessgym`` command."""

from experiments.cli import app

app()
