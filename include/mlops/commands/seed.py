"""``mlops seed``: write deterministic example batches and late labels to S3 (dev tooling)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from mlops import storage
from mlops.cli import add_json_flag, emit
from mlops.config import load_dataset_config


def _day(text: str) -> date:
    """``YYYY-MM-DD`` or ``today`` (UTC)."""
    return datetime.now(UTC).date() if text == "today" else date.fromisoformat(text)


def register(sub) -> None:
    p = sub.add_parser("seed", help="generate example daily batches into the bucket")
    p.add_argument("--dataset", required=True)
    p.add_argument("--bucket", default=storage.DEFAULT_BUCKET)
    p.add_argument("--start", type=_day, default=date(2026, 1, 1), help="first day (ignored with --end)")
    p.add_argument(
        "--end", type=_day, default=None, help="last day, YYYY-MM-DD or 'today' (UTC); the window ends here"
    )
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--rows-per-day", type=int, default=1500)
    p.add_argument(
        "--today",
        type=_day,
        default=None,
        help="labels arrive only for days at least label_delay_days before this (default: the last day)",
    )
    p.add_argument("--drift-start", type=_day, default=None)
    p.add_argument("--label-shift-start", type=_day, default=None)
    p.add_argument("--bad-day", type=_day, action="append", default=[])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave objects already in the bucket alone (top up new days and labels that came due)",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from mlops.dev import datagen

    cfg = load_dataset_config(args.dataset)
    client = storage.client_from_env()
    storage.ensure_bucket(client, args.bucket)
    start = args.end - timedelta(days=args.days - 1) if args.end else args.start
    scenario = datagen.Scenario(
        drift_start=args.drift_start, label_shift_start=args.label_shift_start, bad_days=tuple(args.bad_day)
    )
    result = datagen.seed_dataset(
        client,
        args.bucket,
        cfg,
        start=start,
        days=args.days,
        rows_per_day=args.rows_per_day,
        today=args.today,
        seed=args.seed,
        scenario=scenario,
        skip_existing=args.skip_existing,
        log=lambda m: None if args.json else print(m),
    )
    emit(
        args,
        result,
        f"seeded {cfg.name} {start}..{start + timedelta(days=args.days - 1)} into "
        f"s3://{args.bucket}/data/{cfg.name}/: {len(result['days'])} batches and "
        f"{len(result['labelled_days'])} label files written, {len(result['skipped_days'])} days already there",
    )
    return 0
