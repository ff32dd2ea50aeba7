"""Batch scoring throughput and memory: end to end through S3 vs raw ``model.predict``.

For each size (100k, 1M, 5M rows of the credit dataset) a fresh subprocess:

1. runs :func:`mlops.scoring.score_batch` end to end against moto's S3 server: resolve the
   production pointer through :mod:`mlops.models`, verify and load the model, stream the
   input Parquet from S3 with ranged GETs, coerce and check every row (rejects), predict,
   write the Parquet part with a multipart upload and publish ``_SUCCESS``; then records its
   peak RSS (``VmHWM``);
2. in the same process, loads the same rows into memory (not timed) and times the raw
   ``model.predict`` on them: the ratio is ``end_to_end / raw``.

Both are repeated (3x at 100k, 2x at 1M, once at 5M) and the best time of each is kept:
the machine is shared, so single timings are noisy. Modules are imported before timing.

A separate subprocess times the DAG's ``validate_batch`` step (the Great Expectations suite
streamed over the batch, ``mlops.validation.validate_uri``, Data Docs page included) and its peak
RSS; ``(e2e+GX)/raw`` is scoring with validation included.

The model is the credit config's pipeline (preprocessor + HistGradientBoosting with the
config params, no search), trained on 20k rows and published with ``force`` and a reason
(audited: there is no evaluation). Inputs are written with 500k-row row groups.
Targets: end to end <= 2x raw predict, validation included; peak RSS of scoring and of validation
flat (< 1 GiB) from 1M to 5M rows.

``python -m benchmarks bench_scoring`` runs it; ``MLOPS_BENCH_SIZES=100000,1000000`` picks sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

BUCKET = "mlops-bench"
DATASET = "credit"
SIZES = (100_000, 1_000_000, 5_000_000)
ROW_GROUP = 500_000
TRAIN_ROWS = 20_000
TARGET_RATIO = 2.0
TARGET_RSS_MIB = 1024
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def _peak_rss_mib() -> float:
    """Peak RSS of this process (``VmHWM``; ``ru_maxrss`` can carry the parent's peak across fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _input_uri(rows: int) -> str:
    return f"s3://{BUCKET}/data/{DATASET}/features/dt=bench-{rows}/batch.parquet"


def _output_uri(rows: int) -> str:
    return f"s3://{BUCKET}/predictions/{DATASET}/bench-{rows}/"


# ---------------------------------------------------------------- setup (not measured)
def setup_model(endpoint: str) -> str:
    """Train the config's pipeline on 20k rows, publish and promote it; returns the version."""
    from mlops import artifacts, serialization, storage, training
    from mlops.config import load_dataset_config
    from mlops.dev import datagen
    from mlops.registry import ModelRegistry

    cfg = load_dataset_config(DATASET)
    client = _client(endpoint)
    storage.ensure_bucket(client, BUCKET)
    features, labels = datagen.generate_day(cfg, date(2026, 1, 1), TRAIN_ROWS, seed=1)
    df = features.merge(labels, on=cfg.id_column)
    plan = training.plan_model(cfg, search="none")
    model = training.build_model(cfg, plan)
    model.fit(training.feature_frame(df, cfg), training.target_array(df, cfg))
    prefix = artifacts.candidate_prefix(BUCKET, DATASET, "bench")
    storage.put_bytes(client, artifacts.model_uri(prefix), serialization.dump_model(model))
    reg = ModelRegistry(client, BUCKET, DATASET)
    version = reg.publish(
        candidate_uri=prefix,
        run={"run_id": "bench", "actor": "bench"},
        force=True,
        force_reason="benchmark model: trained without an evaluation",
    ).version
    current = reg.pointer()
    if current is None or current.version != version:
        reg.promote(
            version,
            expected_etag=current.etag if current else None,
            reason="benchmark model",
            actor="bench",
            forced=True,
        )
    return version


def write_input(endpoint: str, rows: int, local: Path) -> None:
    """Generate ``rows`` credit rows in 500k-row row groups, keep a local copy, upload to S3."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlops import storage
    from mlops.config import load_dataset_config
    from mlops.dev import datagen

    cfg = load_dataset_config(DATASET)
    writer = None
    done, day = 0, date(2026, 3, 1)
    while done < rows:
        n = min(ROW_GROUP, rows - done)
        features, _ = datagen.generate_day(cfg, day, n, seed=7)
        table = pa.Table.from_pandas(features, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(local, table.schema)
        writer.write_table(table, row_group_size=ROW_GROUP)
        done += n
        day += timedelta(days=1)
    writer.close()
    bucket, key = storage.parse_uri(_input_uri(rows))
    _client(endpoint).upload_file(str(local), bucket, key)


# ---------------------------------------------------------------- measured (one subprocess per size)
def worker(endpoint: str, rows: int, local: Path) -> dict:
    import numpy as np
    import pyarrow.parquet as pq

    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "bench",
            "password": "bench",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    )
    import sklearn.pipeline  # noqa: F401  (a long-running worker has these imported already)
    import skops.io  # noqa: F401

    from mlops import models, scoring, training
    from mlops.config import load_dataset_config

    cfg = load_dataset_config(DATASET)
    client = _client(endpoint)
    rss_before = _peak_rss_mib()
    repeats = 1 if rows >= 5_000_000 else (2 if rows >= 1_000_000 else 3)
    e2e_runs, raw_runs = [], []
    for i in range(repeats):
        t0 = time.perf_counter()
        result = scoring.score_batch(
            client,
            cfg,
            input_uri=_input_uri(rows),
            output_uri=_output_uri(rows),
            bucket=BUCKET,
            run_id=f"bench-{rows}-{i}",
        )
        e2e_runs.append(time.perf_counter() - t0)
        assert result.rows_scored + result.rows_rejected == rows
    rss_e2e = _peak_rss_mib()

    # Raw predict on the same rows, in memory (loading is not timed).
    model = models.load_model(client, models.resolve(client, BUCKET, DATASET, result.model_version).manifest)
    X = training.feature_frame(pq.read_table(local).to_pandas(), cfg)
    for _ in range(repeats):
        t0 = time.perf_counter()
        pred = model.predict(X)
        raw_runs.append(time.perf_counter() - t0)
    assert len(pred) == rows and np.isfinite(pred.astype(float)).all()
    e2e, raw = min(e2e_runs), min(raw_runs)
    return {
        "rows": rows,
        "end_to_end_s": round(e2e, 2),
        "raw_predict_s": round(raw, 2),
        "ratio": round(e2e / raw, 2),
        "e2e_rows_per_s": round(rows / e2e),
        "peak_rss_mib": round(rss_e2e, 1),
        "rss_after_imports_mib": round(rss_before, 1),
        "model_version": result.model_version,
        "rejected": result.rows_rejected,
        "repeats": repeats,
        "e2e_runs_s": [round(x, 2) for x in e2e_runs],
        "raw_runs_s": [round(x, 2) for x in raw_runs],
    }


def gx_worker(endpoint: str, rows: int) -> dict:
    """The DAG's validate_batch step on the same input: the GX suite streamed over the batch.

    Modules (GX included) are imported before timing, as for scoring; the peak RSS is the whole
    process's (the imports' ~0.27 GiB included).
    """
    from mlops import validation
    from mlops.config import load_dataset_config
    from mlops.validation import run

    run._gx()
    cfg = load_dataset_config(DATASET)
    t0 = time.perf_counter()
    report = validation.validate_uri(_client(endpoint), _input_uri(rows), cfg, docs=True)
    return {
        "rows": rows,
        "gx_validate_s": round(time.perf_counter() - t0, 2),
        "gx_success": report.success,
        "gx_evaluated": report.result.evaluated,
        "gx_peak_rss_mib": round(_peak_rss_mib(), 1),
    }


def _run_child(args: list[str], timeout: int = 1800) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scoring", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {args} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _sizes() -> list[int]:
    raw = os.environ.get("MLOPS_BENCH_SIZES", "")
    return [int(x) for x in raw.split(",") if x.strip()] or list(SIZES)


def main() -> list[dict]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per S3 request
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    rows_out = []
    try:
        t0 = time.perf_counter()
        version = setup_model(endpoint)
        print(
            f"model: {DATASET} {version} (config pipeline, trained on {TRAIN_ROWS} rows) "
            f"in {time.perf_counter() - t0:.1f}s; S3: moto server {endpoint}",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
            for rows in _sizes():
                local = Path(tmp) / f"batch-{rows}.parquet"
                t0 = time.perf_counter()
                write_input(endpoint, rows, local)
                print(
                    f"  {rows:>9,} rows: input {local.stat().st_size / 2**20:.0f} MiB written and uploaded "
                    f"in {time.perf_counter() - t0:.1f}s (not measured)",
                    flush=True,
                )
                res = _run_child(
                    ["--worker", "--endpoint", endpoint, "--rows", str(rows), "--local", str(local)]
                )
                try:
                    res.update(_run_child(["--gx", "--endpoint", endpoint, "--rows", str(rows)]))
                except Exception as err:  # report, keep the scoring figures
                    res.update({"gx_validate_s": None, "gx_error": str(err)[-300:]})
                rows_out.append(res)
                gx = res.get("gx_validate_s")
                print(
                    f"  {rows:>9,} rows: end-to-end {res['end_to_end_s']:.2f}s vs raw predict "
                    f"{res['raw_predict_s']:.2f}s -> ratio {res['ratio']:.2f}x "
                    f"({res['e2e_rows_per_s']:,} rows/s), peak RSS {res['peak_rss_mib']:.0f} MiB"
                    + (
                        f"; GX validate_batch {gx:.2f}s (peak RSS {res['gx_peak_rss_mib']:.0f} MiB)"
                        if gx is not None
                        else "; GX validate_batch failed"
                    ),
                    flush=True,
                )
                client = _client(endpoint)
                for uri in (_input_uri(rows),):
                    bucket, key = uri[5:].split("/", 1)
                    client.delete_object(Bucket=bucket, Key=key)
                local.unlink(missing_ok=True)
    finally:
        server.stop()
    _report(rows_out)
    return rows_out


def _report(results: list[dict]) -> None:
    print("\nscoring benchmark (credit, HistGradientBoosting pipeline, moto S3 server, this machine)")
    print(
        f"{'rows':>10} {'e2e s':>8} {'raw s':>8} {'ratio':>6} {'rows/s':>10} {'peak RSS MiB':>13} "
        f"{'GX s':>7} {'GX RSS MiB':>11} {'(e2e+GX)/raw':>13}"
    )
    for r in results:
        gx = r.get("gx_validate_s")
        with_gx = f"{(r['end_to_end_s'] + gx) / r['raw_predict_s']:.2f}" if gx is not None else "n/a"
        print(
            f"{r['rows']:>10,} {r['end_to_end_s']:>8.2f} {r['raw_predict_s']:>8.2f} {r['ratio']:>6.2f} "
            f"{r['e2e_rows_per_s']:>10,} {r['peak_rss_mib']:>13.0f} {gx if gx is not None else 'n/a':>7} "
            f"{r.get('gx_peak_rss_mib') or 'n/a':>11} {with_gx:>13}"
        )
    ratios_ok = all(r["ratio"] <= TARGET_RATIO for r in results)
    big = [r for r in results if r["rows"] >= 1_000_000]
    flat = all(r["peak_rss_mib"] < TARGET_RSS_MIB for r in big)
    growth = (
        (
            f"{big[-1]['peak_rss_mib'] - big[0]['peak_rss_mib']:+.0f} MiB from "
            f"{big[0]['rows']:,} to {big[-1]['rows']:,} rows"
        )
        if len(big) > 1
        else "n/a"
    )
    print(f"target end-to-end <= {TARGET_RATIO:.1f}x raw predict: {'met' if ratios_ok else 'NOT met'}")
    print(
        f"target peak RSS < {TARGET_RSS_MIB} MiB and flat from 1M to 5M: {'met' if flat else 'NOT met'} ({growth})"
    )
    print("JSON " + json.dumps(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--gx", action="store_true")
    parser.add_argument("--endpoint")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--local", type=Path)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.endpoint, args.rows, args.local)))
    elif args.gx:
        print(json.dumps(gx_worker(args.endpoint, args.rows)))
    else:
        main()
