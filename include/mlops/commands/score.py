"""``mlops score``: score a batch with a registry model version, streamed, into a published partition."""

from __future__ import annotations

from mlops import storage
from mlops.cli import EXIT_OK, add_json_flag, emit
from mlops.config import available_datasets, load_dataset_config


def register(sub) -> None:
    p = sub.add_parser(
        "score",
        help="score a Parquet batch with the production (or a pinned) model version",
        description=(
            "Resolve the model once, stream the input in chunks, write predictions and rejects under "
            "OUTPUT and publish it with a _SUCCESS manifest written last (see mlops.scoring)."
        ),
    )
    p.add_argument(
        "--dataset", required=True, help=f"dataset and model name ({', '.join(available_datasets())})"
    )
    p.add_argument(
        "--input", required=True, help="the batch: s3://bucket/key.parquet or a local Parquet file"
    )
    p.add_argument(
        "--output", required=True, help="partition prefix, e.g. s3://bucket/predictions/credit/2026-02-17/"
    )
    p.add_argument("--version", default="production", help="alias or version id (default: production)")
    p.add_argument("--bucket", default=storage.DEFAULT_BUCKET, help="registry bucket (default: %(default)s)")
    p.add_argument("--run-id", default=None, help="run id recorded in every row (default: manual__<time>)")
    p.add_argument("--shards", type=int, default=1, help="row ranges scored in turn (same output as 1)")
    p.add_argument(
        "--chunk-size", type=int, default=None, help="rows per chunk (default: scoring.chunk_size)"
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from mlops import scoring

    cfg = load_dataset_config(args.dataset)
    client = storage.client_from_env()  # the registry is always in S3
    result = scoring.score_batch(
        client,
        cfg,
        input_uri=args.input,
        output_uri=args.output,
        version=args.version,
        bucket=args.bucket,
        run_id=args.run_id,
        shards=args.shards,
        chunk_size=args.chunk_size,
    )
    emit(args, result.to_dict(), "\n".join(result.summary_lines()))
    return EXIT_OK
