"""Batch scoring: streamed, pinned to the version resolved at the start, atomically published."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops import artifacts, scoring, serialization, storage
from mlops.errors import ConfigError, InputReadError, IntegrityError
from mlops.registry import ModelRegistry

DAY = "2026-01-10"


# ------------------------------------------------------------------ fixtures
def _fit(cfg, features, labels, estimator):
    """The training pipeline (preprocessor + estimator), small enough to fit in a fraction of a second."""
    from sklearn.pipeline import Pipeline

    from mlops import training

    df = features.merge(labels, on=cfg.id_column)
    model = Pipeline([("preprocess", training.make_preprocessor(cfg)), ("model", estimator)])
    return model.fit(training.feature_frame(df, cfg), training.target_array(df, cfg))


@pytest.fixture(scope="module")
def models(credit_cfg, credit_day):
    """Two different fitted credit models: gradient boosting (the config's kind) and a logistic regression."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    features, labels = credit_day
    return (
        _fit(credit_cfg, features, labels, HistGradientBoostingClassifier(max_iter=20, random_state=0)),
        _fit(credit_cfg, features, labels, LogisticRegression(max_iter=500)),
    )


def publish(client, bucket: str, model, run_id: str, *, promote: bool = True) -> str:
    """Publish ``model`` as the next registry version (and promote it)."""
    prefix = f"s3://{bucket}/candidates/credit/{run_id}/"
    storage.put_bytes(client, prefix + "model.skops", serialization.dump_model(model))
    reg = ModelRegistry(client, bucket, "credit")
    version = reg.publish(candidate_prefix=prefix, run={"run_id": run_id}, require_blessing=False).version
    if promote:
        current = reg.pointer()
        reg.promote(
            version, expected_etag=current.etag if current else None, reason="test promotion", actor="pytest"
        )
    return version


def put_batch(client, bucket: str, frame: pd.DataFrame, *, row_group_size: int | None = None) -> str:
    uri = artifacts.batch_uri(bucket, "credit", DAY)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf, row_group_size=row_group_size)
    storage.put_bytes(client, uri, buf.getvalue())
    return uri


def out_uri(bucket: str, day: str = DAY) -> str:
    return artifacts.predictions_prefix(bucket, "credit", day)


@pytest.fixture
def world(s3, bucket, credit_cfg, credit_day, models):
    """A registry with v0001 in production and the day's batch in S3 (row groups of 700 rows)."""
    features, _ = credit_day
    version = publish(s3, bucket, models[0], "train-1")
    uri = put_batch(s3, bucket, features, row_group_size=700)
    return {
        "client": s3,
        "bucket": bucket,
        "cfg": credit_cfg,
        "features": features,
        "input": uri,
        "version": version,
    }


def score(world, **kwargs):
    args = {
        "input_uri": world["input"],
        "output_uri": out_uri(world["bucket"]),
        "bucket": world["bucket"],
        "run_id": "run-1",
        "chunk_size": 500,
    }
    args.update(kwargs)
    return scoring.score_batch(world["client"], world["cfg"], **args)


def expected_probability(model, cfg, features) -> np.ndarray:
    from mlops import training

    return model.predict_proba(training.feature_frame(features, cfg))[:, -1]


# ------------------------------------------------------------------ planning
def test_plan_shards_cut_on_the_chunk_grid():
    shards = scoring.plan_shards(2000, 300, 3)
    assert [(s.row_start, s.row_end) for s in shards] == [(0, 600), (600, 1200), (1200, 2000)]
    assert all(s.row_start % 300 == 0 for s in shards)
    assert sum(s.rows for s in shards) == 2000
    assert len(scoring.plan_shards(250, 100, 8)) == 3  # no more shards than chunks
    assert scoring.plan_shards(0, 100, 4) == [scoring.Shard(0, 1, 0, 0)]


def test_plan_shards_rejects_bad_counts():
    with pytest.raises(ConfigError, match="'shards' parameter of plan_shards must be >= 1. Got 0"):
        scoring.plan_shards(100, 10, 0)


def test_iter_chunks_reads_exactly_the_range_across_row_groups():
    table = pa.table({"id": [f"r{i}" for i in range(2000)], "x": np.arange(2000.0)})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=333)
    pf = pq.ParquetFile(pa.BufferReader(buf.getvalue()))
    chunks = list(scoring.iter_chunks(pf, 500, 1700, 250, columns=["x"]))
    assert [start for start, _ in chunks] == [500, 750, 1000, 1250, 1500]
    assert [t.num_rows for _, t in chunks] == [250, 250, 250, 250, 200]
    got = np.concatenate([t.column("x").to_numpy() for _, t in chunks])
    np.testing.assert_array_equal(got, np.arange(500.0, 1700.0))


# ------------------------------------------------------------------ scoring
def test_score_batch_publishes_a_complete_partition(world, models):
    result = score(world, shards=1)
    client, cfg, features = world["client"], world["cfg"], world["features"]
    assert result.model_version == "v0001" and result.model_ref == "production"
    assert (result.rows_in, result.rows_scored, result.rows_rejected) == (2000, 2000, 0)

    preds = scoring.read_predictions(client, result.output_uri)
    assert list(preds.columns) == [cfg.id_column, "prediction", "probability", "model_version", "run_id"]
    assert preds[cfg.id_column].tolist() == features[cfg.id_column].tolist()
    assert set(preds["model_version"]) == {"v0001"} and set(preds["run_id"]) == {"run-1"}
    np.testing.assert_array_equal(
        preds["probability"].to_numpy(), expected_probability(models[0], cfg, features)
    )

    marker = scoring.read_success(client, result.output_uri)
    head = storage.head(client, world["input"])
    assert marker["input"]["version_id"] == head["VersionId"]
    assert marker["model"]["version"] == "v0001"
    assert marker["rows"] == {
        "input": 2000,
        "scored": 2000,
        "rejected": 0,
        "reject_fraction": 0.0,
        "max_reject_fraction": cfg.scoring.max_reject_fraction,
    }
    for part in marker["parts"] + marker["rejects"]:
        assert storage.sha256_bytes(storage.get_bytes(client, part["uri"])) == part["sha256"]


def test_version_resolved_at_start_is_kept_when_production_moves_mid_run(world, models):
    client, bucket, cfg = world["client"], world["bucket"], world["cfg"]
    moved = []

    def promote_challenger_after_first_chunk(progress: scoring.ChunkProgress) -> None:
        if progress.chunk_index == 0 and not moved:
            moved.append(publish(client, bucket, models[1], "train-2"))

    result = score(world, on_chunk=promote_challenger_after_first_chunk)

    assert moved == ["v0002"]
    assert ModelRegistry(client, bucket, "credit").pointer().version == "v0002"  # production really moved
    preds = scoring.read_predictions(client, result.output_uri)
    assert set(preds["model_version"]) == {"v0001"}
    assert scoring.read_success(client, result.output_uri)["model"]["version"] == "v0001"
    np.testing.assert_array_equal(
        preds["probability"].to_numpy(), expected_probability(models[0], cfg, world["features"])
    )
    assert not np.allclose(preds["probability"], expected_probability(models[1], cfg, world["features"]))


def test_sharded_output_is_identical_to_unsharded(world):
    client, bucket = world["client"], world["bucket"]
    one = score(world, shards=1, chunk_size=300, output_uri=out_uri(bucket, "one"))
    three = score(world, shards=3, chunk_size=300, output_uri=out_uri(bucket, "three"))
    assert (one.num_shards, three.num_shards, len(three.part_uris)) == (1, 3, 3)
    pd.testing.assert_frame_equal(
        scoring.read_predictions(client, one.output_uri), scoring.read_predictions(client, three.output_uri)
    )
    assert three.rows_scored == one.rows_scored == 2000


def test_retry_leaves_exactly_one_complete_partition(world):
    client = world["client"]
    earlier = score(world, run_id="run-0")  # yesterday's publication of the same partition

    def crash_in_second_shard(progress: scoring.ChunkProgress) -> None:
        if progress.shard_index == 1:
            # While the new run is half done, readers still see the earlier complete partition.
            assert set(scoring.read_predictions(client, earlier.output_uri)["run_id"]) == {"run-0"}
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        score(world, run_id="run-1", shards=2, on_chunk=crash_in_second_shard)
    assert scoring.read_success(client, earlier.output_uri)["run_id"] == "run-0"

    retried = score(world, run_id="run-1", shards=2)
    again = score(world, run_id="run-1", shards=2)  # a second retry rewrites the same keys, same bytes
    assert retried.part_uris == again.part_uris

    marker = scoring.read_success(client, retried.output_uri)
    listed = {e["uri"] for e in marker["parts"] + marker["rejects"]} | {
        scoring.success_uri(retried.output_uri)
    }
    assert set(storage.list_uris(client, retried.output_uri)) == listed
    preds = scoring.read_predictions(client, retried.output_uri)
    assert len(preds) == 2000 and preds[world["cfg"].id_column].is_unique
    assert set(preds["run_id"]) == {"run-1"}
    assert [p["sha256"] for p in marker["parts"]] == [
        storage.sha256_bytes(storage.get_bytes(client, u)) for u in again.part_uris
    ]


def test_unscorable_rows_land_in_rejects_with_the_reason(world):
    client, bucket, cfg = world["client"], world["bucket"], world["cfg"]
    frame = world["features"].copy()
    frame["age"] = frame["age"].astype(str)
    frame.loc[[3, 17], "age"] = "abc"
    frame.loc[40, "age"] = ""  # empty text is a missing value, not a reject
    frame.loc[25, "loan_amount"] = np.inf
    frame[cfg.id_column] = frame[cfg.id_column].astype(object)
    frame.loc[60, cfg.id_column] = None
    put_batch(client, bucket, frame)

    result = score(world, max_reject_fraction=0.05)

    assert (result.rows_in, result.rows_scored, result.rows_rejected) == (2000, 1996, 4)
    rejects = scoring.read_rejects(client, result.output_uri).set_index("row")
    assert sorted(rejects.index) == [3, 17, 25, 60]
    assert rejects.loc[3, "reason"] == "column 'age': value 'abc' is not a number"
    assert rejects.loc[3, "value"] == "abc" and rejects.loc[3, "column"] == "age"
    assert rejects.loc[25, "reason"] == "column 'loan_amount': value inf is not finite"
    assert rejects.loc[60, "reason"] == "id column 'application_id' is null"
    assert rejects.loc[17, cfg.id_column] == frame.loc[17, cfg.id_column]
    preds = scoring.read_predictions(client, result.output_uri)
    assert len(preds) == 1996 and frame.loc[40, cfg.id_column] in set(preds[cfg.id_column])


def test_too_many_rejects_fail_the_run_without_publishing(world):
    client, bucket = world["client"], world["bucket"]
    frame = world["features"].copy()
    frame["credit_score"] = frame["credit_score"].astype(str)
    frame.loc[:99, "credit_score"] = "n/a?"
    put_batch(client, bucket, frame)
    with pytest.raises(scoring.TooManyRejects, match=r"100 of 2000 rows \(5.00%\) .* could not be scored"):
        score(world)
    assert not storage.exists(client, scoring.success_uri(out_uri(bucket)))
    with pytest.raises(scoring.PartitionNotPublished, match="not a published predictions partition"):
        scoring.read_predictions(client, out_uri(bucket))


def test_checksum_mismatch_stops_the_run_before_anything_is_written(world, models):
    client, bucket = world["client"], world["bucket"]
    manifest = ModelRegistry(client, bucket, "credit").manifest("v0001")
    tampered = serialization.dump_model(models[1])  # a valid skops file, but not the published bytes
    storage.put_bytes(client, manifest["artifacts"]["model.skops"]["uri"], tampered)

    with pytest.raises(IntegrityError, match="Checksum mismatch"):
        score(world)
    assert storage.list_uris(client, f"s3://{bucket}/predictions/") == []


def test_pinned_version_scores_with_that_version(world, models):
    publish(world["client"], world["bucket"], models[1], "train-2")  # production -> v0002
    result = score(world, version="v0001")
    assert (result.model_ref, result.model_version) == ("v0001", "v0001")


def test_missing_required_feature_is_a_clear_input_error(world):
    client, bucket = world["client"], world["bucket"]
    put_batch(client, bucket, world["features"].drop(columns=["credit_score"]))
    with pytest.raises(InputReadError, match=r"lacks required feature columns \['credit_score'\]"):
        score(world)


def test_missing_input_names_the_uri(world):
    with pytest.raises(InputReadError, match="does not exist; the day's batch has not landed"):
        score(world, input_uri=artifacts.batch_uri(world["bucket"], "credit", "2030-01-01"))


def test_chunk_frame_matches_the_training_feature_frame(world, models):
    """No training/serving skew: scoring builds exactly the frame training fits on."""
    from mlops import training

    cfg, features = world["cfg"], world["features"]
    plan, model = scoring.plan_scoring(
        world["client"],
        cfg,
        input_uri=world["input"],
        output_uri=out_uri(world["bucket"]),
        bucket=world["bucket"],
    )
    scorer = scoring._ChunkScorer(model, cfg, plan)
    frame, bad = scorer.frame(pa.Table.from_pandas(features, preserve_index=False))
    assert bad == {}
    pd.testing.assert_frame_equal(frame, training.feature_frame(features, cfg))


def test_s3_sink_streams_multipart_and_aborts_cleanly(s3, bucket):
    data = np.random.default_rng(0).bytes(12 * 1024 * 1024)
    uri = f"s3://{bucket}/sink/big.bin"
    with scoring._S3Sink(s3, uri, part_size=5 * 1024 * 1024) as sink:
        for i in range(0, len(data), 1 << 20):
            sink.write(data[i : i + (1 << 20)])
        sha, size, _ = sink.commit()
    assert storage.get_bytes(s3, uri) == data and size == len(data) and sha == storage.sha256_bytes(data)

    broken = f"s3://{bucket}/sink/broken.bin"
    with pytest.raises(RuntimeError), scoring._S3Sink(s3, broken, part_size=5 * 1024 * 1024) as sink:
        sink.write(data)
        raise RuntimeError("crash before commit")
    assert not storage.exists(s3, broken)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_cli_score_json(server_s3, credit_cfg, credit_day, models, capsys):
    from mlops.cli import main

    features, _ = credit_day
    publish(server_s3, "mlops-test", models[0], "train-1")
    uri = put_batch(server_s3, "mlops-test", features)
    code = main(
        [
            "score",
            "--dataset",
            "credit",
            "--input",
            uri,
            "--output",
            out_uri("mlops-test"),
            "--bucket",
            "mlops-test",
            "--run-id",
            "cli-run",
            "--shards",
            "2",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["model_version"] == "v0001" and out["rows_scored"] == 2000 and out["num_shards"] == 1
    assert out["success_uri"] == f"s3://mlops-test/predictions/credit/{DAY}/_SUCCESS"
