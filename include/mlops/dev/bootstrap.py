"""``make up``'s bootstrap: example data that ends today, and a first production model.

    python -m mlops.dev.bootstrap                       # before `airflow standalone` (make up)
    python -m mlops.dev.bootstrap --seed-only           # only the data (make seed)
    python -m mlops.dev.bootstrap --follow              # then seed each new UTC day (make up, in the background)

1. Waits for the S3 endpoint of ``AIRFLOW_CONN_AWS_DEFAULT`` and makes sure the bucket exists.
2. Seeds :data:`SEED_DAYS` days of every dataset that :mod:`mlops.dev.datagen` can generate
   (the others are skipped with a note), ending today (UTC), with the labels due by
   today (``label_delay_days`` later). Objects already there are left alone, so a restart
   only adds the days and labels that came due since. The data is clean: a default trigger
   of any DAG (logical date = now) finds a full training window, today's batch to score and
   validate. ``make demo`` is the place for a rejected batch and drift.
3. Each dataset without a production pointer gets ``airflow dags test mlops_training`` (window
   ending today): the gate blesses a first model, publish and promote make it production.
4. Each dataset with a production model that has never been scored: ``mlops_batch_scoring`` for
   yesterday and today (:data:`FIRST_SCORED_DAYS`, at most its ``monitoring.window_days``); if it
   has never been monitored: ``mlops_monitoring`` for today. The scoring and monitoring DAGs
   serve every dataset by default (``dataset=all``), so a default trigger (and the night the
   scheduler runs on unpause) then finds scored days for each, and the models page a verdict.

Every step says what it did or why it skipped it, so a second start only logs skips. The runs
are real DagRuns in ``$AIRFLOW_HOME``'s database (visible in the UI); their logs go to
``$AIRFLOW_HOME/bootstrap/``. Run it with no scheduler on the same SQLite database.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops import storage
from mlops.config import available_datasets, load_dataset_config
from mlops.dev import datagen

#: Days of example data ending today.
SEED_DAYS = 60
#: Rows per daily batch, per dataset (datasets not listed get DEFAULT_ROWS).
ROWS_PER_DAY = {"credit": 1500, "diabetes": 60}
DEFAULT_ROWS = 500
#: Days scored once after a first model, ending today: today's monitoring night and yesterday's
#: (the one the scheduler runs when mlops_monitoring is unpaused before 06:00 UTC) each find one.
FIRST_SCORED_DAYS = 2
REASON = "make up: first model on the example data"


def say(message: str) -> None:
    print(f"[up] {message}", flush=True)


def utc_today() -> date:
    return datetime.now(UTC).date()


def wait_for_s3(client, bucket: str, timeout: float = 60.0) -> None:
    """Poll until the endpoint answers, then make sure ``bucket`` exists with versioning."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.list_buckets()
            break
        except Exception as err:  # noqa: BLE001 - connection refused while the server starts
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"[up] S3 endpoint not reachable after {timeout:.0f} s ({type(err).__name__}: {err}); "
                    "start it with `python -m mlops.dev.local_s3` or fix AIRFLOW_CONN_AWS_DEFAULT."
                ) from None
            time.sleep(0.5)
    storage.ensure_bucket(client, bucket)


def seedable_datasets() -> list[str]:
    """The datasets with a config whose ``source`` :mod:`mlops.dev.datagen` can generate."""
    out = []
    for name in available_datasets():
        source = load_dataset_config(name).source
        if source in datagen.GENERATORS:
            out.append(name)
        else:
            say(
                f"dataset {name}: skipped, no example-data generator for source {source!r} in "
                f"mlops.dev.datagen (known: {sorted(datagen.GENERATORS)}); put its batches under "
                f"data/{name}/ yourself"
            )
    return out


def seed_to_today(client, bucket: str, today: date, datasets: list[str]) -> dict[str, dict[str, Any]]:
    """Top up every dataset to ``SEED_DAYS`` days ending ``today``; returns each seed result."""
    out = {}
    for name in datasets:
        cfg = load_dataset_config(name)
        start = today - timedelta(days=SEED_DAYS - 1)
        result = datagen.seed_dataset(
            client,
            bucket,
            cfg,
            start=start,
            days=SEED_DAYS,
            rows_per_day=ROWS_PER_DAY.get(name, DEFAULT_ROWS),
            today=today,
            skip_existing=True,
            log=lambda m: None,
        )
        new, labels = result["days"], result["labelled_days"]
        if new or labels:
            say(
                f"seeded {name} {start}..{today}: {len(new)} new batches, {len(labels)} new label files "
                f"({len(result['skipped_days'])} days already complete) in s3://{bucket}/data/{name}/"
            )
        else:
            say(
                f"seed {name}: skipped, all {SEED_DAYS} days up to {today} and their due labels already exist"
            )
        out[name] = result
    return out


def production_uri(bucket: str, dataset: str) -> str:
    """The production pointer of the registered model ``dataset`` (README, "S3 layout")."""
    return f"s3://{bucket}/models/{dataset}/aliases/production.json"


def _production_version(client, bucket: str, dataset: str) -> str | None:
    uri = production_uri(bucket, dataset)
    if not storage.exists(client, uri):
        return None
    pointer = storage.get_json(client, uri)
    return str(pointer.get("version", "?")) if isinstance(pointer, dict) else "?"


def dags_test(dag_id: str, conf: dict[str, Any], log_path: Path) -> tuple[bool, float]:
    """``airflow dags test <dag_id>`` at the current time with ``conf``; (succeeded, seconds)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    say(f"running {dag_id} {json.dumps(conf)} (airflow dags test; log {log_path}) ...")
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "airflow", "dags", "test", dag_id, "-c", json.dumps(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            rc = proc.wait()
        except BaseException:  # interrupted (SIGINT/SIGTERM): `dags test` must not outlive us
            _stop(proc)
            raise
    seconds = time.monotonic() - started
    say(f"  -> {dag_id} {'success' if rc == 0 else f'FAILED (exit {rc})'} in {seconds:.0f} s")
    return rc == 0, seconds


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def first_models(
    client, bucket: str, datasets: list[str], log_dir: Path, run: Callable = dags_test
) -> dict[str, str]:
    """Train, gate, publish and promote a first model for each dataset without production."""
    status = {}
    for name in datasets:
        version = _production_version(client, bucket, name)
        if version is not None:
            say(
                f"first model {name}: skipped, production is already {version} ({production_uri(bucket, name)})"
            )
            status[name] = "skipped"
            continue
        ok, _ = run(
            "mlops_training", {"dataset": name, "reason": REASON}, log_dir / f"mlops_training_{name}.log"
        )
        version = _production_version(client, bucket, name)
        if ok and version is not None:
            say(f"first model {name}: production is now {version}")
            status[name] = "trained"
        else:
            say(
                f"first model {name}: FAILED, no production model (see {log_dir / f'mlops_training_{name}.log'} "
                "and the run in the UI); the UI starts anyway, fix the cause and trigger mlops_training"
            )
            status[name] = "failed"
    return status


def _has(client, prefix_uri: str, suffix: str = "") -> list[str]:
    return [u for u in storage.list_uris(client, prefix_uri) if u.endswith(suffix)]


def first_scoring_and_monitoring(
    client, bucket: str, dataset: str, today: date, log_dir: Path, run: Callable = dags_test
) -> dict[str, str]:
    """Score yesterday and today and monitor ``today``, once, after the first model.

    Scoring yesterday too covers the night the scheduler runs when ``mlops_monitoring`` is
    unpaused before 06:00 UTC: yesterday's, whose window must hold a scored day too.
    """
    status = {}
    if _production_version(client, bucket, dataset) is None:
        say(f"first scoring/monitoring {dataset}: skipped, no production model to score with")
        return {"scoring": "skipped", "monitoring": "skipped"}
    scored = _has(client, f"s3://{bucket}/predictions/{dataset}/", "/_SUCCESS")
    if scored:
        say(
            f"first scoring {dataset}: skipped, {len(scored)} partition(s) already scored; nightly runs add more"
        )
        status["scoring"] = "skipped"
    else:
        days = min(FIRST_SCORED_DAYS, load_dataset_config(dataset).monitoring.window_days)
        status["scoring"] = "ran"
        for back in range(days - 1, -1, -1):
            day = (today - timedelta(days=back)).isoformat()
            log_path = log_dir / f"mlops_batch_scoring_{dataset}_{day}.log"
            ok, _ = run("mlops_batch_scoring", {"dataset": dataset, "date": day}, log_path)
            if not ok:
                status["scoring"] = "failed"
                break
    reports = _has(client, f"s3://{bucket}/monitoring/{dataset}/", "/report.json")
    if reports:
        say(f"first monitoring {dataset}: skipped, {len(reports)} night(s) already monitored")
        status["monitoring"] = "skipped"
    elif status["scoring"] == "failed":
        say(f"first monitoring {dataset}: skipped, scoring failed (see the log above)")
        status["monitoring"] = "skipped"
    else:
        ok, _ = run("mlops_monitoring", {"dataset": dataset}, log_dir / f"mlops_monitoring_{dataset}.log")
        status["monitoring"] = "ran" if ok else "failed"
    return status


def follow(client, bucket: str, datasets: list[str], interval: float) -> None:
    """Seed each new UTC day as it starts (its batch, and the labels that came due)."""
    seeded_for = utc_today()
    say(
        f"following: a new day's batch and due labels appear after midnight UTC (checked every {interval:.0f} s)"
    )
    while True:
        time.sleep(interval)
        today = utc_today()
        if today == seeded_for:
            continue
        try:
            seed_to_today(client, bucket, today, datasets)
            seeded_for = today
        except Exception as err:  # noqa: BLE001 - keep following; S3 may be restarting
            say(f"seeding {today} failed ({type(err).__name__}: {err}); retrying in {interval:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", default=storage.DEFAULT_BUCKET)
    parser.add_argument("--seed-only", action="store_true", help="seed the data; train nothing")
    parser.add_argument(
        "--follow", action="store_true", help="only keep running: seed each new UTC day as it starts"
    )
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between day checks (--follow)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _run(args)
    except KeyboardInterrupt:
        say("interrupted; stopped")
        return 130


def _run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    client = storage.client_from_env()
    datasets = seedable_datasets()
    wait_for_s3(client, args.bucket)
    if args.follow:
        follow(client, args.bucket, datasets, args.interval)
        return 0
    today = utc_today()
    seed_to_today(client, args.bucket, today, datasets)
    if not args.seed_only:
        log_dir = Path(os.environ.get("AIRFLOW_HOME", ".airflow")) / "bootstrap"
        first_models(client, args.bucket, datasets, log_dir)
        for name in datasets:
            first_scoring_and_monitoring(client, args.bucket, name, today, log_dir)
    say(f"bootstrap done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
