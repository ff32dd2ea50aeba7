"""``mlops config NAME``: load, validate and print a dataset config."""

from __future__ import annotations

import yaml

from mlops.cli import add_json_flag, emit
from mlops.config import available_datasets, config_path, load_dataset_config


def register(sub) -> None:
    p = sub.add_parser("config", help="validate and show a dataset config")
    p.add_argument(
        "dataset", nargs="?", help=f"dataset name or YAML path (known: {', '.join(available_datasets())})"
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if not args.dataset:
        names = available_datasets()
        emit(args, {"datasets": names}, "\n".join(names))
        return 0
    cfg = load_dataset_config(args.dataset)
    data = cfg.to_dict()
    emit(args, data, f"# {config_path(args.dataset)} (valid)\n" + yaml.safe_dump(data, sort_keys=False))
    return 0
