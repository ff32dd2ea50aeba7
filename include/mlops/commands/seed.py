"""``mlops seed``: write deterministic example batches and late labels to S3."""

from __future__ import annotations

from datetime import date

from mlops import datagen, storage
from mlops.cli import add_json_flag, emit
from mlops.config import load_dataset_config


def register(sub) -> None:
    p = sub.add_parser("seed", help="generate example daily batches into the bucket")
    p.add_argument("--dataset", required=True)
    p.add_argument("--bucket", default=storage.DEFAULT_BUCKET)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 1))
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--rows-per-day", type=int, default=1500)
    p.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="labels arrive only for days at least label_delay_days before this",
    )
    p.add_argument("--drift-start", type=date.fromisoformat, default=None)
    p.add_argument("--label-shift-start", type=date.fromisoformat, default=None)
    p.add_argument("--bad-day", type=date.fromisoformat, action="append", default=[])
    p.add_argument("--seed", type=int, default=0)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    cfg = load_dataset_config(args.dataset)
    client = storage.client_from_env()
    storage.ensure_bucket(client, args.bucket)
    scenario = datagen.Scenario(
        drift_start=args.drift_start, label_shift_start=args.label_shift_start, bad_days=tuple(args.bad_day)
    )
    result = datagen.seed_dataset(
        client,
        args.bucket,
        cfg,
        start=args.start,
        days=args.days,
        rows_per_day=args.rows_per_day,
        today=args.today,
        seed=args.seed,
        scenario=scenario,
        log=lambda m: None if args.json else print(m),
    )
    emit(
        args,
        result,
        f"seeded {len(result['days'])} days of {cfg.name} into s3://{args.bucket}/data/{cfg.name}/",
    )
    return 0
