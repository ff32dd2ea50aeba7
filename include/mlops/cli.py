"""The ``mlops`` command line (also ``python -m mlops``).

Each subcommand lives in its own module under :mod:`mlops.commands` and
exposes ``register(subparsers)``; modules are discovered, so adding a command
never touches this file. Every subcommand takes ``--json``.

Exit codes: 0 success, 1 a check failed (e.g. validation), 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from typing import Any

from mlops.errors import ConfigError, InputReadError, MLOpsError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def emit(args: argparse.Namespace, payload: Any, text: str) -> None:
    """Print ``payload`` as JSON with ``--json``, else the human-readable ``text``."""
    if getattr(args, "json", False):
        print(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        print(text)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops",
        description="Airflow-native batch MLOps: the same steps the DAGs run, from a shell.",
    )
    add_json_flag(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import mlops.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"mlops.commands.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_OK
    try:
        return int(args.func(args) or EXIT_OK)
    except (InputReadError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MLOpsError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
