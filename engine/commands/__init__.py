"""CLI subcommands that live in their own module (one command, one file).

Each module listed in `COMMAND_MODULES` has ``register(commands)``, which adds its
subparser to argparse's subparsers object and sets ``handler=<function(args) -> int>``
on it. `engine.cli.build_parser` calls every ``register``; `engine.cli.main` calls the
handler. Add a command: write the module, add its name here.
"""

from __future__ import annotations

COMMAND_MODULES: tuple[str, ...] = ("compare", "advise", "diagnose", "showdown", "bias")
