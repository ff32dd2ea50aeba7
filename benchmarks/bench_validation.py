"""Validation overheads: ``mlops validate`` on a small file, and a training window validated in one process.

1. ``mlops validate`` on a 569-row credit Parquet file, as a user runs it: a fresh process each time,
   the Great Expectations import included (3 runs, the median is kept).
2. A training window of 27 days x 1,500 labelled rows on moto's S3 server, validated in one fresh
   process (what the ``validate_window`` task does: one process, GX imported once), then again in
   another process: every day's object version and suite are unchanged, so every recorded result is
   reused and no batch is read. For comparison, one day validated in a fresh process, as each of the
   27 mapped ``validate_batch`` tasks did before.

``python -m benchmarks bench_validation`` runs it; the rows of issue 13's table are printed by
``python -m benchmarks`` (:mod:`benchmarks.targets`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from benchmarks.bench_scoring import _client, _free_port

BUCKET = "mlops-bench-validation"
DATASET = "credit"
CLI_ROWS = 569
WINDOW_DAYS = 27
WINDOW_ROWS = 1_500
START = date(2026, 1, 1)
REPO = Path(__file__).resolve().parents[1]


def _env(endpoint: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.setdefault("GX_ANALYTICS_ENABLED", "False")
    if endpoint:
        env["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
            {
                "conn_type": "aws",
                "login": "bench",
                "password": "bench",
                "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
            }
        )
    return env


def cli_seconds(tmp: Path, runs: int = 3) -> dict:
    """Wall seconds of ``mlops validate`` (a fresh process) on a 569-row file."""
    from mlops import storage
    from mlops.config import load_dataset_config
    from mlops.dev import datagen

    features, _ = datagen.generate_day(load_dataset_config(DATASET), START, CLI_ROWS, seed=3)
    path = tmp / "batch-569.parquet"
    path.write_bytes(storage.frame_to_parquet_bytes(features))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "mlops.cli", "validate", "--dataset", DATASET, "--input", str(path)],
            env=_env(),
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(
                f"mlops validate failed ({proc.returncode}): {proc.stdout[-500:]}{proc.stderr[-500:]}"
            )
    return {
        "cli_rows": CLI_ROWS,
        "cli_runs_s": [round(t, 2) for t in times],
        "cli_s": round(statistics.median(times), 2),
    }


def window_worker(endpoint: str, days: int) -> dict:
    """Validate the first ``days`` days of the window in this (fresh) process; time the import apart."""
    from mlops import artifacts, storage

    t0 = time.perf_counter()
    from mlops.validation import run

    run._gx()
    imported = time.perf_counter() - t0
    from mlops.config import load_dataset_config
    from mlops.validation import validate_and_record

    cfg = load_dataset_config(DATASET)
    client = storage.client_from_env()
    reused, t1 = 0, time.perf_counter()
    for i in range(days):
        uri = artifacts.batch_uri(BUCKET, DATASET, START + timedelta(days=i))
        reused += validate_and_record(client, uri, cfg, labelled=True).cached
    return {
        "days": days,
        "import_s": round(imported, 2),
        "validate_s": round(time.perf_counter() - t1, 2),
        "total_s": round(time.perf_counter() - t0, 2),
        "reused": reused,
    }


def _child(args: list[str], endpoint: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_validation", *args],
        env=_env(endpoint),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def window(endpoint: str) -> dict:
    """The window validated cold, again (all reused), and one day alone (a mapped task's cost)."""
    from mlops import artifacts, storage
    from mlops.config import load_dataset_config
    from mlops.dev import datagen

    cfg = load_dataset_config(DATASET)
    client = _client(endpoint)
    storage.ensure_bucket(client, BUCKET)
    datagen.seed_dataset(
        client,
        BUCKET,
        cfg,
        start=START,
        days=WINDOW_DAYS + 1,
        rows_per_day=WINDOW_ROWS,
        today=START + timedelta(days=WINDOW_DAYS + 10),
        log=lambda m: None,
    )
    one = _child(["--window", "--endpoint", endpoint, "--days", "1"], endpoint)  # day 1 only, cold
    for key in storage.list_uris(client, f"s3://{BUCKET}/data/{DATASET}/features/"):
        if key.endswith(".validation.json"):
            storage.delete(client, key)  # the window run below starts from nothing recorded
    first = _child(["--window", "--endpoint", endpoint, "--days", str(WINDOW_DAYS)], endpoint)
    again = _child(["--window", "--endpoint", endpoint, "--days", str(WINDOW_DAYS)], endpoint)
    assert first["reused"] == 0, first
    uri = artifacts.batch_uri(BUCKET, DATASET, START)
    assert storage.exists(client, artifacts.validation_uri(uri))
    return {
        "window_days": WINDOW_DAYS,
        "window_rows": WINDOW_ROWS,
        "one_day": one,
        "first": first,
        "again": again,
    }


def main() -> dict:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-validation-") as tmp:
        out.update(cli_seconds(Path(tmp)))
    print(
        f"  mlops validate on {CLI_ROWS} rows (fresh process, GX import included): median {out['cli_s']:.2f}s "
        f"of {out['cli_runs_s']}",
        flush=True,
    )
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        out["window"] = w = window(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
    mapped = w["one_day"]["total_s"] * WINDOW_DAYS
    print(
        f"  training window {WINDOW_DAYS} days x {WINDOW_ROWS} rows in one process: {w['first']['total_s']:.1f}s "
        f"(GX import {w['first']['import_s']:.1f}s, validation {w['first']['validate_s']:.1f}s); one day in a fresh "
        f"process {w['one_day']['total_s']:.1f}s (x{WINDOW_DAYS} mapped tasks ~ {mapped:.0f}s of task time); "
        f"again: {w['again']['reused']}/{WINDOW_DAYS} reused in {w['again']['validate_s']:.1f}s",
        flush=True,
    )
    print("JSON " + json.dumps(out))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", action="store_true")
    parser.add_argument("--endpoint")
    parser.add_argument("--days", type=int, default=WINDOW_DAYS)
    args = parser.parse_args()
    if args.window:
        print(json.dumps(window_worker(args.endpoint, args.days)))
    else:
        main()
