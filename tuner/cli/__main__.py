"""``python -m tuner.cli``: the ``tuner`` command."""

from tuner.cli.main import entry

entry()
