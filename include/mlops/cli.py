"""The ``mlops`` command line (also ``python -m mlops``).

Each subcommand lives in its own module under :mod:`mlops.commands` and
exposes ``register(subparsers)``; modules are discovered, so adding a command
never touches this file. Every subcommand takes ``--json``.

Exit codes: 0 success, 1 a check failed (e.g. validation), 2 bad input or usage, or an S3
outage: then the one line ``ERROR: cannot reach S3 endpoint <url>: <what>; check <what>``
(:func:`mlops.storage.describe_outage`) and no traceback. The S3 client
(:func:`mlops.storage.client_from_env`) fails fast (short timeouts, one retry) and refuses a
bucket without versioning.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from typing import Any

from mlops import storage
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
    except Exception as err:
        if storage.describe_outage(err) is not None:
            # a client was built, so the connection parses: its endpoint names a ClientError's
            outage = storage.describe_outage(err, storage.endpoint_from_env())
            print("ERROR: " + " ".join(str(outage).split()), file=sys.stderr)
            return EXIT_BAD_INPUT
        if isinstance(err, InputReadError | ConfigError):
            print(f"error: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if isinstance(err, MLOpsError):
            print(f"error: {err}", file=sys.stderr)
            return EXIT_FAILED
        raise


if __name__ == "__main__":
    sys.exit(main())
