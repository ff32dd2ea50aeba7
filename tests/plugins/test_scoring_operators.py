"""Scoring operators: thin adapters over mlops.scoring, run with execute(context={}) against the moto server."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlops import artifacts, scoring, serialization, storage
from mlops.registry import ModelRegistry
from mlops_operators.scoring import FinalizePartitionOperator, PlanScoringOperator, ScoreBatchOperator

BUCKET = "mlops-test"
DAY = "2026-01-10"


@pytest.fixture(scope="module")
def model(credit_cfg, credit_day):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from mlops import training

    features, labels = credit_day
    df = features.merge(labels, on=credit_cfg.id_column)
    pipe = Pipeline(
        [("preprocess", training.make_preprocessor(credit_cfg)), ("model", LogisticRegression(max_iter=500))]
    )
    return pipe.fit(training.feature_frame(df, credit_cfg), training.target_array(df, credit_cfg))


@pytest.fixture
def world(server_s3, credit_day, model):
    features, _ = credit_day
    prefix = f"s3://{BUCKET}/candidates/credit/ops/"
    storage.put_bytes(server_s3, prefix + "model.skops", serialization.dump_model(model))
    reg = ModelRegistry(server_s3, BUCKET, "credit")
    version = reg.publish(candidate_prefix=prefix, run={"run_id": "ops"}, require_blessing=False).version
    reg.promote(version, expected_etag=None, reason="operator test", actor="pytest")
    input_uri = artifacts.batch_uri(BUCKET, "credit", DAY)
    storage.write_parquet(server_s3, input_uri, features)
    return {
        "client": server_s3,
        "input_uri": input_uri,
        "output_uri": artifacts.predictions_prefix(BUCKET, "credit", DAY),
        "version": version,
        "features": features,
    }


def test_plan_score_finalize_publish_the_partition(world, oplog):
    plan = PlanScoringOperator(
        task_id="plan_scoring",
        dataset="credit",
        input_uri=world["input_uri"],
        output_uri=world["output_uri"],
        version="production",
        shards="2",  # a rendered template is a string
        bucket=BUCKET,
    ).execute(context={})
    assert len(plan) == 1  # 2,000 rows fit in one 50,000-row chunk: one shard
    assert plan[0]["model_version"] == world["version"] and plan[0]["shard_index"] == 0
    assert "model credit: production -> v0001 (resolved once for this run; checksum verified)" in oplog.text

    shard = ScoreBatchOperator(
        task_id="score_batch", dataset="credit", plan=plan[0], validation={"success": True}
    ).execute(context={})
    assert shard["rows_scored"] == 2000 and shard["part"]["uri"].startswith(world["output_uri"] + "attempt=")
    assert not storage.exists(world["client"], scoring.success_uri(world["output_uri"]))  # not published yet

    result = FinalizePartitionOperator(
        task_id="finalize_partition", dataset="credit", shard_results=[shard]
    ).execute(context={})
    assert result["success_uri"] == world["output_uri"] + "_SUCCESS"
    assert (result["rows_scored"], result["model_version"]) == (2000, world["version"])
    assert "check reject share: 0.0000 (0 of 2000 rows) <= max 0.0100 -> pass" in oplog.text
    assert len(scoring.read_predictions(world["client"], world["output_uri"])) == 2000


def test_score_batch_without_plan_runs_the_whole_thing(world, oplog):
    result = ScoreBatchOperator(
        task_id="score_batch",
        dataset="credit",
        input_uri=world["input_uri"],
        output_uri=world["output_uri"],
        version="",  # an empty Param -> production
        bucket=BUCKET,
    ).execute(context={})
    assert result["model_version"] == world["version"] and result["rows_scored"] == 2000
    assert "model: production -> v0001" in oplog.text


def test_failed_validation_stops_scoring(world):
    op = ScoreBatchOperator(
        task_id="score_batch",
        dataset="credit",
        input_uri=world["input_uri"],
        output_uri=world["output_uri"],
        bucket=BUCKET,
        validation={"success": False},
    )
    with pytest.raises(AirflowFailException, match="did not pass validation"):
        op.execute(context={})
    assert storage.list_uris(world["client"], world["output_uri"]) == []


def test_checksum_mismatch_fails_fast_before_writing(world, model):
    client = world["client"]
    manifest = ModelRegistry(client, BUCKET, "credit").manifest(world["version"])
    storage.put_bytes(client, manifest["artifacts"]["model.skops"]["uri"], b"not the published model")
    op = PlanScoringOperator(
        task_id="plan_scoring",
        dataset="credit",
        input_uri=world["input_uri"],
        output_uri=world["output_uri"],
        bucket=BUCKET,
    )
    with pytest.raises(AirflowFailException, match="Checksum mismatch"):
        op.execute(context={})
    assert storage.list_uris(client, f"s3://{BUCKET}/predictions/") == []


def test_too_many_rejects_fail_finalize_without_retry(world):
    frame = world["features"].copy()
    frame["age"] = frame["age"].astype(str)
    frame.loc[:59, "age"] = "unknown?"
    storage.write_parquet(world["client"], world["input_uri"], frame)
    op = ScoreBatchOperator(
        task_id="score_batch",
        dataset="credit",
        input_uri=world["input_uri"],
        output_uri=world["output_uri"],
        bucket=BUCKET,
    )
    with pytest.raises(AirflowFailException, match=r"60 of 2000 rows \(3.00%\)"):
        op.execute(context={})
    assert not storage.exists(world["client"], scoring.success_uri(world["output_uri"]))


def test_bad_shards_param_fails_fast(world):
    op = PlanScoringOperator(
        task_id="plan_scoring",
        dataset="credit",
        input_uri=world["input_uri"],
        output_uri=world["output_uri"],
        bucket=BUCKET,
        shards="many",
    )
    with pytest.raises(AirflowFailException, match="'shards' parameter must be an integer"):
        op.execute(context={})
