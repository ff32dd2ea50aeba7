"""``mlops validate``: check one batch against its GX suite; ``mlops suites``: render the suites.

``mlops validate --dataset credit --input s3://bucket/data/credit/features/dt=2026-02-20/batch.parquet``
exits 0 when the batch passes, 1 when any check fails (one line per problem; a
missing target of a ``--labelled`` batch is a failed check too) and 2 when the
input cannot be read as a table at all (missing, empty, truncated, header-only,
wrong delimiter, not Parquet/CSV) or the config is invalid.

``mlops suites [--dataset NAME] [--check]`` renders include/expectations/<name>.json
from the ``validation:`` section of include/configs/<name>.yaml (hand-written
expectations are kept); ``--check`` exits 1 if a committed suite is stale.
"""

from __future__ import annotations

import json
import sys

from mlops import storage
from mlops.cli import EXIT_FAILED, EXIT_OK, add_json_flag, emit
from mlops.config import available_datasets, load_dataset_config


def register(sub) -> None:
    p = sub.add_parser(
        "validate", help="validate one batch (Parquet/CSV, local or s3://) with Great Expectations"
    )
    p.add_argument("--dataset", required=True, help=f"dataset name ({', '.join(available_datasets())})")
    p.add_argument("--input", required=True, metavar="PATH_OR_S3_URI", help="the batch to check")
    p.add_argument("--labelled", action="store_true", help="also check the target (joins the late labels)")
    p.add_argument("--docs", metavar="HTML_PATH", help="also write the GX Data Docs page here")
    p.add_argument(
        "--record",
        action="store_true",
        help="S3 only: write the result beside the batch and quarantine it on failure (what the DAG does)",
    )
    add_json_flag(p)
    p.set_defaults(func=run)

    s = sub.add_parser("suites", help="render include/expectations/<dataset>.json from the dataset configs")
    s.add_argument("--dataset", action="append", help="only this dataset (repeatable); default: all")
    s.add_argument("--check", action="store_true", help="do not write; exit 1 if a committed suite is stale")
    add_json_flag(s)
    s.set_defaults(func=run_suites)


def run(args) -> int:
    from mlops import validation

    cfg = load_dataset_config(args.dataset)
    client = storage.client_from_env() if storage.is_s3(args.input) else None
    if args.record:
        try:
            report = validation.validate_and_record(
                client, args.input, cfg, labelled=args.labelled, hint_style="cli"
            )
        except validation.BatchRejected as err:
            report = err.report
    else:
        report = validation.validate_uri(
            client, args.input, cfg, labelled=args.labelled, docs=bool(args.docs), hint_style="cli"
        )
    if args.docs and report.docs_html:
        with open(args.docs, "w") as fh:
            fh.write(report.docs_html)
    lines = [report.verdict_line(), *(f"  FAIL {line}" for line in report.summary_lines())]
    if report.quarantine_uri:
        lines.append(f"  quarantined: {report.quarantine_uri}")
    if report.result.validation_uri:
        lines.append(f"  result: {report.result.validation_uri}  docs: {report.result.docs_uri}")
    emit(args, report.to_dict(), "\n".join(lines))
    return EXIT_OK if report.success else EXIT_FAILED


def run_suites(args) -> int:
    from mlops import validation

    out, stale = [], []
    for name in args.dataset or available_datasets():
        cfg = load_dataset_config(name)
        path = validation.suite_path(cfg.name)
        if args.check:
            existing = json.loads(path.read_text()) if path.is_file() else None
            fresh = json.dumps(validation.render_suite(cfg, existing), indent=2) + "\n"
            changed = not path.is_file() or path.read_text() != fresh
        else:
            path, changed = validation.write_suite(cfg)
        n = len(json.loads(path.read_text())["expectations"]) if path.is_file() else 0
        out.append({"dataset": cfg.name, "path": str(path), "changed": changed, "expectations": n})
        if args.check and changed:
            stale.append(cfg.name)
    text = "\n".join(
        f"{r['path']}: {r['expectations']} expectations"
        + (
            " (STALE: run `mlops suites`)"
            if args.check and r["changed"]
            else " (written)"
            if r["changed"]
            else " (unchanged)"
        )
        for r in out
    )
    emit(args, {"suites": out, "stale": stale}, text)
    if stale:
        print(f"stale suites: {stale}; run `mlops suites` and commit include/expectations/", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
