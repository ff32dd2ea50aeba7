"""``mlops init NAME --sample FILE``: a dataset config and its expectation suite, inferred from a clean sample.

``mlops init churn --sample churn.parquet --id customer_id --target churned`` writes
include/configs/churn.yaml and include/expectations/churn.json (or under
``$MLOPS_CONFIG_DIR``/``$MLOPS_EXPECTATIONS_DIR``) and prints what it inferred, column by
column, for review. It refuses to overwrite either file without ``--force`` (hand-written
expectations in an existing suite are kept). Exit 0 when written, 2 on bad input (an
unreadable sample, an unknown ``--id``/``--target`` column, an existing file).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from mlops import storage
from mlops.cli import EXIT_OK, add_json_flag, emit
from mlops.config import RESERVED_NAME, config_path, load_dataset_config, parse_dataset_config
from mlops.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser(
        "init",
        help="infer a dataset config and its GX suite from a clean sample (Parquet/CSV)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("name", help="dataset name: lower case, digits and _ (e.g. churn)")
    p.add_argument("--sample", required=True, metavar="PATH_OR_S3_URI", help="a clean, labelled batch")
    p.add_argument("--id", dest="id_column", metavar="COL", help="the unique id column (default: id or *_id)")
    p.add_argument("--target", metavar="COL", help="the label column (default: target/label/y/class)")
    p.add_argument("--task", choices=("classification", "regression"), help="default: from the target")
    p.add_argument("--date", dest="date_column", metavar="COL", help="event date column (default: none)")
    p.add_argument(
        "--labels",
        choices=("in-features", "separate"),
        default="in-features",
        help="labelled batches carry the target (default) or labels land in labels/dt=<day>/",
    )
    p.add_argument("--max-categories", type=int, default=50, metavar="N", help="value-set cap (default 50)")
    p.add_argument(
        "--min-rows", type=int, metavar="N", help="row-count floor (default: a tenth of the sample)"
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing config and suite")
    add_json_flag(p)
    p.set_defaults(func=run)


def _command(args) -> str:
    """The command line that produced the config, for its header (the sample by file name)."""
    parts = [args.name, "--sample", Path(args.sample).name]
    flags = (("--id", args.id_column), ("--target", args.target), ("--task", args.task))
    flags += (("--date", args.date_column),)
    parts += [x for flag, value in flags if value for x in (flag, value)]
    if args.labels != "in-features":
        parts += ["--labels", args.labels]
    if args.max_categories != 50:
        parts += ["--max-categories", str(args.max_categories)]
    if args.min_rows is not None:
        parts += ["--min-rows", str(args.min_rows)]
    return "mlops init " + " ".join(shlex.quote(p) for p in parts)


def run(args) -> int:
    from mlops import validation
    from mlops.validation.infer import infer_config, render_yaml

    if not re.fullmatch(r"[a-z][a-z0-9_]*", args.name):
        raise ConfigError(
            f"Dataset name {args.name!r} must be lower case letters, digits and _, starting with a letter."
        )
    if args.name == RESERVED_NAME:
        raise ConfigError(
            f"Dataset name {args.name!r} is reserved: the DAGs' dataset Param uses it for every dataset. "
            "Pick another name."
        )
    cfg_file, suite_file = config_path(args.name), validation.suite_path(args.name)
    existing = [str(p) for p in (cfg_file, suite_file) if p.exists()]
    if existing and not args.force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise ConfigError(
            f"{' and '.join(existing)} already {verb}; pass --force to overwrite "
            "(hand-written expectations in the suite are kept)."
        )
    if args.max_categories < 1:
        raise ConfigError(f"--max-categories must be at least 1. Got {args.max_categories} instead.")
    client = storage.client_from_env() if storage.is_s3(args.sample) else None
    frame = storage.read_table(client, args.sample)
    inference = infer_config(
        frame,
        args.name,
        id_column=args.id_column,
        target=args.target,
        task=args.task,
        date_column=args.date_column,
        labels_in_features=args.labels == "in-features",
        max_categories=args.max_categories,
        min_rows=args.min_rows,
        sample=Path(args.sample).name,
    )
    text = render_yaml(inference, _command(args))
    parse_dataset_config(inference.config, cfg_file)  # never write a config that does not load
    cfg_file.parent.mkdir(parents=True, exist_ok=True)
    cfg_file.write_text(text)
    cfg = load_dataset_config(cfg_file)
    suite_file, _ = validation.write_suite(cfg, suite_file)
    n = len(json.loads(suite_file.read_text())["expectations"])
    summary = [
        f"inferred {args.name} from {args.sample} ({inference.rows} rows, {len(frame.columns)} columns):",
        *inference.lines(),
        f"wrote {cfg_file}",
        f"wrote {suite_file} ({n} expectations)",
        f"next: review both files, try `mlops validate --dataset {args.name} --input <batch>`, then commit them.",
    ]
    payload = {**inference.to_dict(), "config_path": str(cfg_file), "suite_path": str(suite_file)}
    emit(args, payload, "\n".join(summary))
    return EXIT_OK
