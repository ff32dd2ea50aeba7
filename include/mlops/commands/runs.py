"""``mlops runs list|show|compare``: every training run (candidate), blessed or not, from S3."""

from __future__ import annotations

import argparse

from mlops import storage
from mlops._util import fmt_value
from mlops.cli import EXIT_OK, add_json_flag, emit


def register(sub) -> None:
    p = sub.add_parser("runs", help="training runs: params, metrics, data window, verdict; compare runs")
    add_json_flag(p)
    rsub = p.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, func, add_args) -> None:
        q = rsub.add_parser(name, help=help_text)
        add_args(q)
        q.add_argument("--bucket", default=storage.DEFAULT_BUCKET)
        # SUPPRESS: `mlops runs --json list` and `mlops runs list --json` both work.
        q.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON"
        )
        q.set_defaults(func=func)

    def list_args(q) -> None:
        q.add_argument("dataset", nargs="?", default=None, help="one dataset (default: all)")
        q.add_argument("--limit", type=int, default=None, help="newest N runs only")

    action("list", "list training runs, newest first", run_list, list_args)
    action(
        "show",
        "show one run (<dataset>/<run_key>, as `runs list` prints it)",
        run_show,
        lambda q: q.add_argument("run", help="e.g. credit/manual__2026-02-17T03:00:00+00:00__1a2b3c4d"),
    )
    action(
        "compare",
        "compare 2 or more runs side by side",
        run_compare,
        lambda q: (
            q.add_argument("runs", nargs="+", help="two or more <dataset>/<run_key>"),
            q.add_argument("--changed", action="store_true", help="only rows whose values differ"),
        ),
    )


def _line(r) -> str:
    window = f"{r.window.get('start', '?')}..{r.window.get('end', '?')}"
    metric = f"{r.primary_metric}={fmt_value(r.primary_value)}" if r.primary_metric else "-"
    return f"{r.ref}  {r.written_at or '-'}  {r.estimator or '-':<22} {window}  {metric:<18} {r.status}"


def run_list(args) -> int:
    from mlops.tracking import runs

    found = runs.list_runs(storage.client_from_env(), args.bucket, args.dataset, limit=args.limit)
    text = "\n".join(_line(r) for r in found) or f"no training runs under s3://{args.bucket}/candidates/"
    emit(args, [r.to_dict() for r in found], text)
    return EXIT_OK


def run_show(args) -> int:
    from mlops.tracking import runs

    r = runs.get_run(storage.client_from_env(), args.bucket, args.run)
    lines = [
        _line(r),
        f"prefix: {r.prefix}",
        f"dag run: {r.run.get('dag_id', '-')} {r.run.get('run_id', '-')}",
        f"data window: {r.window}  train rows {r.train_rows}  holdout rows {r.holdout_rows}",
        f"params: {r.params}  best: {r.best_params}  cv best {fmt_value(r.cv_best_score)}",
        "metrics: " + ", ".join(f"{k}={fmt_value(v)}" for k, v in r.metrics.items()),
        f"verdict: {r.verdict or '-'}",
    ]
    emit(args, r.to_dict(), "\n".join(lines))
    return EXIT_OK


def run_compare(args) -> int:
    from mlops.tracking import runs

    found = runs.get_runs(storage.client_from_env(), args.bucket, args.runs)
    table = runs.compare_runs(found)
    rows = table.changed() if args.changed else table.rows
    width = max((len(f"{s}: {k}") for s, k, _ in rows), default=10)
    lines = [f"[{i + 1}] {label}" for i, label in enumerate(table.labels)]
    lines.append(" " * width + "  " + "  ".join(f"[{i + 1}]" for i in range(len(found))))
    lines += [f"{s + ': ' + k:<{width}}  " + "  ".join(fmt_value(v) for v in values) for s, k, values in rows]
    payload = table.to_dict()
    if args.changed:
        payload["rows"] = [row for row in payload["rows"] if row["changed"]]
    emit(args, {**payload, "runs": [r.to_dict() for r in found]}, "\n".join(lines))
    return EXIT_OK
