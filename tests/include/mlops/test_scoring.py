"""Batch scoring: streamed, pinned to the version resolved at the start, atomically published."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops import artifacts, models, scoring, serialization, storage
from mlops.errors import (
    ArtifactSchemaError,
    ConfigError,
    InputReadError,
    IntegrityError,
    MLOpsError,
    RegistryError,
)
from mlops.scoring.chunk import ChunkScorer
from mlops.scoring.io import S3Sink
from tests.conftest import publish_forced, write_candidate

DAY = "2026-01-10"


# ------------------------------------------------------------------ fixtures
def _fit(cfg, features, labels, estimator, *, relabel=None):
    """The training pipeline (preprocessor + estimator), small enough to fit in a fraction of a second."""
    from sklearn.pipeline import Pipeline

    from mlops import training

    df = features.merge(labels, on=cfg.id_column)
    y = models.target_array(df, cfg)
    if relabel is not None:
        y = np.asarray([relabel[v] for v in y], dtype=object)
    model = Pipeline([("preprocess", training.make_preprocessor(cfg)), ("model", estimator)])
    return model.fit(models.feature_frame(df, cfg), y)


@pytest.fixture(scope="module")
def fitted(credit_cfg, credit_day):
    """Two different fitted credit models: gradient boosting (the config's kind) and a logistic regression."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    features, labels = credit_day
    return (
        _fit(credit_cfg, features, labels, HistGradientBoostingClassifier(max_iter=20, random_state=0)),
        _fit(credit_cfg, features, labels, LogisticRegression(max_iter=500)),
    )


def put_batch(client, bucket: str, frame: pd.DataFrame, *, row_group_size: int | None = None) -> str:
    uri = artifacts.batch_uri(bucket, "credit", DAY)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf, row_group_size=row_group_size)
    storage.put_bytes(client, uri, buf.getvalue())
    return uri


def out_uri(bucket: str, day: str = DAY) -> str:
    return artifacts.predictions_prefix(bucket, "credit", day)


@pytest.fixture
def world(s3, bucket, credit_cfg, credit_day, fitted):
    """A registry with v0001 in production and the day's batch in S3 (row groups of 700 rows)."""
    features, _ = credit_day
    version = publish_forced(s3, bucket, fitted[0], "train-1")
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
    cfg = args.pop("cfg", world["cfg"])
    return scoring.score_batch(world["client"], cfg, **args)


def expected_probability(model, cfg, features) -> np.ndarray:
    return models.predict(model, features, cfg)[1]


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


def test_plan_round_trips_through_its_mapped_xcom(world):
    plan, _ = scoring.plan_scoring(
        world["client"], world["cfg"], input_uri=world["input"], output_uri=out_uri(world["bucket"]),
        bucket=world["bucket"], run_id="run-1", shards=2, chunk_size=500,
    )  # fmt: skip
    mapped = json.loads(json.dumps(plan.for_shard(1)))
    assert scoring.ScoringPlan.from_dict(mapped) == plan and mapped["shard_index"] == 1
    assert plan.manifest_sha256 == models.resolve(world["client"], world["bucket"], "credit").manifest_sha256
    with pytest.raises(MLOpsError, match=r"Not a scoring plan: missing \['attempt'\]"):
        scoring.ScoringPlan.from_dict({k: v for k, v in mapped.items() if k != "attempt"})


# ------------------------------------------------------------------ scoring
def test_score_batch_publishes_a_complete_partition(world, fitted):
    result = score(world, shards=1)
    client, cfg, features = world["client"], world["cfg"], world["features"]
    assert result.model_version == "v0001" and result.model_ref == "production"
    assert (result.rows_in, result.rows_scored, result.rows_rejected) == (2000, 2000, 0)

    preds = scoring.read_predictions(client, result.output_uri)
    assert list(preds.columns) == [cfg.id_column, "prediction", "probability", "model_version", "run_id"]
    assert preds[cfg.id_column].tolist() == features[cfg.id_column].tolist()
    assert set(preds["model_version"]) == {"v0001"} and set(preds["run_id"]) == {"run-1"}
    np.testing.assert_array_equal(
        preds["probability"].to_numpy(), expected_probability(fitted[0], cfg, features)
    )

    marker = scoring.read_success(client, result.output_uri)
    assert isinstance(marker, artifacts.SuccessMarker)
    head = storage.head(client, world["input"])
    assert marker.input_version_id == head["VersionId"]
    assert (marker.model_ref, marker.model_version) == ("production", "v0001")
    assert (
        marker.model_sha256
        == models.read_manifest(client, world["bucket"], "credit", "v0001")[0].model_sha256
    )
    assert (marker.rows_in, marker.rows_scored, marker.rows_rejected) == (2000, 2000, 0)
    assert (marker.reject_fraction, marker.max_reject_fraction) == (0.0, cfg.scoring.max_reject_fraction)
    assert marker.part_uris == result.part_uris and marker.rejects_uris == result.rejects_uris
    raw = json.loads(storage.get_bytes(client, result.success_uri))
    assert (raw["kind"], raw["schema_version"]) == ("predictions_success", 1)
    for part in marker.parts + marker.rejects:
        data = storage.get_bytes(client, part.uri, part.version_id)
        assert storage.sha256_bytes(data) == part.sha256 and len(data) == part.size


def test_version_resolved_at_start_is_kept_when_production_moves_mid_run(world, fitted):
    client, bucket, cfg = world["client"], world["bucket"], world["cfg"]
    moved = []

    def promote_challenger_after_first_chunk(progress: scoring.ChunkProgress) -> None:
        if progress.chunk_index == 0 and not moved:
            moved.append(publish_forced(client, bucket, fitted[1], "train-2"))

    result = score(world, on_chunk=promote_challenger_after_first_chunk)

    assert moved == ["v0002"]
    assert models.read_pointer(client, bucket, "credit").pointer.version == "v0002"  # production really moved
    preds = scoring.read_predictions(client, result.output_uri)
    assert set(preds["model_version"]) == {"v0001"}
    assert scoring.read_success(client, result.output_uri).model_version == "v0001"
    np.testing.assert_array_equal(
        preds["probability"].to_numpy(), expected_probability(fitted[0], cfg, world["features"])
    )
    assert not np.allclose(preds["probability"], expected_probability(fitted[1], cfg, world["features"]))


def test_sharded_output_is_identical_to_unsharded(world):
    client, bucket = world["client"], world["bucket"]
    one = score(world, shards=1, chunk_size=300, output_uri=out_uri(bucket, "one"))
    three = score(world, shards=3, chunk_size=300, output_uri=out_uri(bucket, "three"))
    assert (one.num_shards, three.num_shards, len(three.part_uris)) == (1, 3, 3)
    pd.testing.assert_frame_equal(
        scoring.read_predictions(client, one.output_uri), scoring.read_predictions(client, three.output_uri)
    )
    assert three.rows_scored == one.rows_scored == 2000
    marker = scoring.read_success(client, three.output_uri)
    assert [(p.shard, p.row_start, p.row_end) for p in marker.parts] == [
        (0, 0, 600),
        (1, 600, 1200),
        (2, 1200, 2000),
    ]


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
    assert scoring.read_success(client, earlier.output_uri).run_id == "run-0"

    retried = score(world, run_id="run-1", shards=2)
    again = score(world, run_id="run-1", shards=2)  # a second retry rewrites the same keys, same bytes
    assert retried.part_uris == again.part_uris

    marker = scoring.read_success(client, retried.output_uri)
    listed = set(marker.part_uris + marker.rejects_uris) | {artifacts.success_uri(retried.output_uri)}
    assert set(storage.list_uris(client, retried.output_uri)) == listed
    preds = scoring.read_predictions(client, retried.output_uri)
    assert len(preds) == 2000 and preds[world["cfg"].id_column].is_unique
    assert set(preds["run_id"]) == {"run-1"}
    assert [p.sha256 for p in marker.parts] == [
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
    marker = scoring.read_success(client, result.output_uri)
    assert marker.reject_reasons == {
        "column 'age': not a number": 2,
        "column 'loan_amount': not finite": 1,
        "id column 'application_id' is null": 1,
    }


def test_rows_the_model_raises_on_are_isolated_into_rejects(world, fitted):
    cfg = world["cfg"]

    class Picky:
        """Wraps the published model; raises on any frame holding an age of exactly 99."""

        def __init__(self, model):
            self.model, self.classes_ = model, model.classes_

        def predict_proba(self, X):
            if (X["age"] == 99.0).any():
                raise ValueError("age 99 is out of range")
            return self.model.predict_proba(X)

    frame = world["features"].copy()
    frame.loc[[7, 1234], "age"] = 99.0
    plan, _ = scoring.plan_scoring(
        world["client"], cfg, input_uri=put_batch(world["client"], world["bucket"], frame),
        output_uri=out_uri(world["bucket"]), bucket=world["bucket"], chunk_size=500,
    )  # fmt: skip
    shard = scoring.score_shard(world["client"], cfg, plan, 0, model=Picky(fitted[0]))
    assert (shard.rows_scored, shard.rows_rejected) == (1998, 2)
    assert shard.reject_reasons == {"model could not score the row: ValueError": 2}
    scoring.publish_partition(world["client"], cfg, [shard.to_dict()], max_reject_fraction=0.01)
    rejects = scoring.read_rejects(world["client"], out_uri(world["bucket"]))
    assert rejects["row"].tolist() == [7, 1234]
    assert set(rejects["reason"]) == {"model could not score the row: ValueError: age 99 is out of range"}


def test_too_many_rejects_fail_the_run_without_publishing(world):
    client, bucket = world["client"], world["bucket"]
    frame = world["features"].copy()
    frame["credit_score"] = frame["credit_score"].astype(str)
    frame.loc[:99, "credit_score"] = "n/a?"
    put_batch(client, bucket, frame)
    with pytest.raises(scoring.TooManyRejects, match=r"100 of 2000 rows \(5.00%\) .* could not be scored"):
        score(world)
    assert not storage.exists(client, artifacts.success_uri(out_uri(bucket)))
    with pytest.raises(scoring.PartitionNotPublished, match="not a published predictions partition"):
        scoring.read_predictions(client, out_uri(bucket))


def test_publish_refuses_missing_or_foreign_shards(world):
    client, cfg, bucket = world["client"], world["cfg"], world["bucket"]
    plan, model = scoring.plan_scoring(
        client,
        cfg,
        input_uri=world["input"],
        output_uri=out_uri(bucket),
        bucket=bucket,
        shards=2,
        chunk_size=500,
    )
    first, second = (scoring.score_shard(client, cfg, plan, i, model=model) for i in range(2))
    with pytest.raises(MLOpsError, match=r"cover shards \[1\] but the plan has 2 shard\(s\)"):
        scoring.publish_partition(client, cfg, [second])
    other = dataclasses.replace(second, model_version="v0009")
    with pytest.raises(MLOpsError, match=r"Shards disagree on model_version: \['v0001', 'v0009'\]"):
        scoring.publish_partition(client, cfg, [first, other])
    storage.delete(client, first.part.uri, first.part.version_id)
    with pytest.raises(MLOpsError, match="is missing or has a different size than its shard wrote"):
        scoring.publish_partition(client, cfg, [first, second])
    assert not storage.exists(client, artifacts.success_uri(out_uri(bucket)))


def test_reader_refuses_a_success_marker_of_another_schema(world):
    result = score(world)
    raw = json.loads(storage.get_bytes(world["client"], result.success_uri))
    raw["schema_version"] = 99
    storage.put_json(world["client"], result.success_uri, raw)
    with pytest.raises(ArtifactSchemaError, match="predictions_success at .*_SUCCESS has schema_version 99"):
        scoring.read_predictions(world["client"], result.output_uri)


def test_tampered_version_stops_the_run_before_anything_is_written(world, fitted):
    """The model is read at the S3 version the manifest pinned and checked against its sha256."""
    client, bucket = world["client"], world["bucket"]
    manifest, _ = models.read_manifest(client, bucket, "credit", "v0001")
    other = storage.put_bytes(client, manifest.model_uri, serialization.dump_model(fitted[1]))
    assert score(world).model_version == "v0001"  # an overwritten key does not change the pinned bytes

    # Point the manifest at the other bytes, keeping the recorded sha256 (the registry writes it create-only).
    entry = dataclasses.replace(manifest.artifacts[artifacts.MODEL_FILE], version_id=other.version_id)
    edited = dataclasses.replace(manifest, artifacts={**manifest.artifacts, artifacts.MODEL_FILE: entry})
    artifacts.write_artifact(client, artifacts.manifest_uri(bucket, "credit", "v0001"), edited)
    with pytest.raises(IntegrityError, match="the manifest was changed after promotion"):
        score(world, output_uri=out_uri(bucket, "alias"))
    with pytest.raises(IntegrityError, match="Checksum mismatch"):  # bytes other than the sha256 recorded
        score(world, version="v0001", output_uri=out_uri(bucket, "pinned"))
    assert storage.list_uris(client, f"s3://{bucket}/predictions/credit/alias/") == []
    assert storage.list_uris(client, f"s3://{bucket}/predictions/credit/pinned/") == []


def test_checksum_mismatch_on_an_unversioned_bucket_stops_the_run(s3, credit_cfg, credit_day, fitted):
    """Without S3 versions the model key itself is read: replaced bytes fail their sha256."""
    plain = "mlops-unversioned"
    storage.ensure_bucket(s3, plain, versioning=False)
    publish_forced(s3, plain, fitted[0], "train-1")
    manifest, _ = models.read_manifest(s3, plain, "credit", "v0001")
    assert manifest.artifacts[artifacts.MODEL_FILE].version_id is None
    storage.put_bytes(s3, manifest.model_uri, serialization.dump_model(fitted[1]))
    world = {"client": s3, "bucket": plain, "cfg": credit_cfg, "input": put_batch(s3, plain, credit_day[0])}
    with pytest.raises(IntegrityError, match="Checksum mismatch"):
        score(world)
    assert storage.list_uris(s3, f"s3://{plain}/predictions/") == []


def test_shard_refuses_a_version_changed_after_planning(world):
    client, cfg, bucket = world["client"], world["cfg"], world["bucket"]
    plan, _ = scoring.plan_scoring(
        client, cfg, input_uri=world["input"], output_uri=out_uri(bucket), bucket=bucket
    )
    stale = dataclasses.replace(plan, manifest_sha256="0" * 64)
    with pytest.raises(IntegrityError, match="the version was changed after planning"):
        scoring.score_shard(client, cfg, stale.for_shard(0))  # no model given: loaded through mlops.models
    assert storage.list_uris(client, out_uri(bucket)) == []
    assert scoring.score_shard(client, cfg, plan.for_shard(0)).rows_scored == 2000


def test_pinned_version_scores_with_that_version(world, fitted):
    publish_forced(world["client"], world["bucket"], fitted[1], "train-2")  # production -> v0002
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


# ------------------------------------------------------------------ the model's feature signature
def test_feature_signature_is_read_from_the_version_manifest(s3, bucket, credit_cfg, credit_day, fitted):
    """A blessed candidate's signature (every column required) wins over the config (some optional)."""
    from mlops.registry import ModelRegistry

    features, _ = credit_day
    kinds = {
        c: "numeric" if c in credit_cfg.features.numeric else "categorical"
        for c in credit_cfg.feature_columns
    }
    # A blessed candidate with training.json, as training and evaluation write it.
    candidate = write_candidate(s3, bucket, "train-sig", fitted[0], features=kinds)
    registry = ModelRegistry(s3, bucket, "credit")
    version = registry.publish(candidate_uri=candidate, run={"run_id": "train-sig"}).version
    registry.promote(version, expected_etag=None, reason="blessed candidate", actor="pytest")
    signature = models.read_manifest(s3, bucket, "credit", version)[0].feature_signature
    assert signature.names == list(credit_cfg.feature_columns) and not any(
        c.optional for c in signature.columns
    )

    absent = "months_since_last_delinquency"  # optional in include/configs/credit.yaml
    assert absent in credit_cfg.features.optional
    world = {"client": s3, "bucket": bucket, "cfg": credit_cfg}
    world["input"] = put_batch(s3, bucket, features.drop(columns=[absent]))
    with pytest.raises(InputReadError, match=rf"lacks required feature columns \['{absent}'\]"):
        score(world)

    # A version without training.json has no signature: the config describes the input.
    bare = publish_forced(s3, bucket, fitted[0], "train-bare", promote=False)
    assert models.read_manifest(s3, bucket, "credit", bare)[0].feature_signature is None
    with pytest.raises(RegistryError, match=f"credit {bare} has no smoke-check record"):
        score(world, version=bare)  # never promoted, never smoke-checked: not deserialized here
    registry.check_candidate(bare)  # the smoke prediction in a child process, recorded
    result = score(world, version=bare)  # the optional column is scored as missing
    assert (result.rows_scored, result.rows_rejected) == (2000, 0)


def test_model_column_missing_from_the_signature_is_a_config_error(credit_cfg, fitted):
    from mlops import training

    columns = [c for c in training.feature_signature(credit_cfg).columns if c.name != "region"]
    signature = artifacts.FeatureSignature.of(columns)
    with pytest.raises(
        ConfigError, match=r"expects columns \['region'\] that are not in its feature signature"
    ):
        scoring.feature_columns(credit_cfg, signature, fitted[0])


# ------------------------------------------------------------------ the positive class
def test_probability_is_of_the_configured_positive_class_even_when_it_is_the_smaller_label(
    s3, bucket, credit_cfg, credit_day
):
    """String labels: 'bad' (the smaller label, proba column 0) is the configured positive class."""
    from sklearn.linear_model import LogisticRegression

    features, labels = credit_day
    model = _fit(
        credit_cfg, features, labels, LogisticRegression(max_iter=500), relabel={1: "bad", 0: "good"}
    )
    assert list(model.classes_) == ["bad", "good"]
    cfg = credit_cfg.model_copy(update={"positive_class": "bad"})
    publish_forced(s3, bucket, model, "train-str")
    world = {"client": s3, "bucket": bucket, "cfg": cfg, "input": put_batch(s3, bucket, features)}

    result = score(world)

    preds = scoring.read_predictions(s3, result.output_uri)
    proba = model.predict_proba(models.feature_frame(features, cfg))
    np.testing.assert_array_equal(preds["probability"].to_numpy(), proba[:, 0])
    assert not np.allclose(preds["probability"], proba[:, -1])
    assert set(preds["prediction"]) <= {"bad", "good"}
    np.testing.assert_array_equal(preds["probability"].to_numpy(), models.predict(model, features, cfg)[1])

    # Without positive_class, the larger label ('good') is positive: the other column.
    unset = score({**world, "cfg": credit_cfg}, output_uri=out_uri(bucket, "unset"))
    np.testing.assert_array_equal(scoring.read_predictions(s3, unset.output_uri)["probability"], proba[:, 1])

    # A positive_class the model does not know fails at planning, before anything is written.
    wrong = credit_cfg.model_copy(update={"positive_class": "default"})
    with pytest.raises(
        ConfigError, match=r"positive_class 'default' is not one of the target labels \['bad', 'good'\]"
    ):
        score({**world, "cfg": wrong}, output_uri=out_uri(bucket, "wrong"))
    assert storage.list_uris(s3, out_uri(bucket, "wrong")) == []


# ------------------------------------------------------------------ pieces
def test_chunk_frame_matches_the_training_feature_frame(world):
    """No training/serving skew: scoring builds exactly the frame training fits on."""
    cfg, features = world["cfg"], world["features"]
    plan, model = scoring.plan_scoring(
        world["client"],
        cfg,
        input_uri=world["input"],
        output_uri=out_uri(world["bucket"]),
        bucket=world["bucket"],
    )
    scorer = ChunkScorer(model, cfg, list(plan.features), plan.model_version, plan.run_id)
    frame, bad = scorer.frame(pa.Table.from_pandas(features, preserve_index=False))
    assert bad == {}
    pd.testing.assert_frame_equal(frame, models.feature_frame(features, cfg))


def test_s3_sink_streams_multipart_and_aborts_cleanly(s3, bucket):
    data = np.random.default_rng(0).bytes(12 * 1024 * 1024)
    uri = f"s3://{bucket}/sink/big.bin"
    with S3Sink(s3, uri, part_size=5 * 1024 * 1024) as sink:
        for i in range(0, len(data), 1 << 20):
            sink.write(data[i : i + (1 << 20)])
        done = sink.commit()
    assert storage.get_bytes(s3, uri) == data and done.size == len(data)
    assert done.sha256 == storage.sha256_bytes(data) and done.version_id == storage.head(s3, uri)["VersionId"]

    broken = f"s3://{bucket}/sink/broken.bin"
    with pytest.raises(RuntimeError), S3Sink(s3, broken, part_size=5 * 1024 * 1024) as sink:
        sink.write(data)
        raise RuntimeError("crash before commit")
    assert not storage.exists(s3, broken)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_cli_score_json(server_s3, credit_cfg, credit_day, fitted, capsys):
    from mlops.cli import main

    features, _ = credit_day
    publish_forced(server_s3, "mlops-test", fitted[0], "train-1")
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
