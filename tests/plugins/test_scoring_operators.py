"""Scoring operators: thin adapters over mlops.scoring, run with execute(context={}) against the moto server."""

from __future__ import annotations

import dataclasses
import re

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlops import artifacts, models, scoring, storage
from mlops_operators.scoring import FinalizePartitionOperator, PlanScoringOperator, ScoreBatchOperator
from tests.conftest import publish_forced

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
    return pipe.fit(models.feature_frame(df, credit_cfg), models.target_array(df, credit_cfg))


@pytest.fixture
def world(server_s3, credit_cfg, credit_day, model):
    features, _ = credit_day
    version = publish_forced(server_s3, BUCKET, model, "ops")
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
    part = artifacts.PartEntry.from_dict(shard["part"])  # the entry _SUCCESS will list
    assert storage.sha256_bytes(storage.get_bytes(world["client"], part.uri, part.version_id)) == part.sha256
    assert not storage.exists(
        world["client"], artifacts.success_uri(world["output_uri"])
    )  # not published yet

    result = FinalizePartitionOperator(
        task_id="finalize_partition", dataset="credit", shard_results=[shard]
    ).execute(context={})
    assert result["success_uri"] == world["output_uri"] + "_SUCCESS"
    assert (result["rows_scored"], result["model_version"]) == (2000, world["version"])
    assert "check reject share: 0.0000 (0 of 2000 rows) <= max 0.0100 -> pass" in oplog.text
    assert len(scoring.read_predictions(world["client"], world["output_uri"])) == 2000
    assert scoring.read_success(world["client"], world["output_uri"]).parts == [part]


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


def test_changed_manifest_fails_fast_before_writing(world):
    """A manifest edited after promotion no longer matches the sha256 the production pointer recorded."""
    client = world["client"]
    uri = artifacts.manifest_uri(BUCKET, "credit", world["version"])
    manifest = artifacts.read_artifact(client, uri, artifacts.VersionManifest)
    artifacts.write_artifact(client, uri, dataclasses.replace(manifest, force_reason="edited by hand"))
    op = PlanScoringOperator(
        task_id="plan_scoring",
        dataset="credit",
        input_uri=world["input_uri"],
        output_uri=world["output_uri"],
        bucket=BUCKET,
    )
    with pytest.raises(AirflowFailException, match="the manifest was changed after promotion"):
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
    assert not storage.exists(world["client"], artifacts.success_uri(world["output_uri"]))


def test_bad_shards_param_fails_fast(world, oplog):
    op = PlanScoringOperator(
        task_id="plan_scoring",
        dataset="credit",
        input_uri=world["input_uri"],
        output_uri=world["output_uri"],
        bucket=BUCKET,
        shards="many",
    )
    message = "The 'shards' parameter of PlanScoringOperator must be a positive integer. Got 'many' instead."
    with pytest.raises(AirflowFailException, match=re.escape(message)):
        op.execute(context={})
    assert oplog.text.count(message) == 1  # one ERROR line, no chained traceback
    assert storage.list_uris(world["client"], world["output_uri"]) == []


def test_bad_rendered_values_fail_before_any_io():
    """Parsed in execute before the S3 client is built: no server needed to fail them."""
    whole_run = ScoreBatchOperator(
        task_id="score_batch", dataset="credit", input_uri="None", output_uri="s3://b/p/"
    )
    with pytest.raises(AirflowFailException) as err:
        whole_run.execute(context={})
    assert str(err.value) == (
        "The 'input_uri' parameter of ScoreBatchOperator must be an s3:// URI when no plan is given. "
        "Got 'None' instead."
    )
    finalize = FinalizePartitionOperator(
        task_id="finalize_partition", dataset="credit", shard_results=[], max_reject_fraction="5%"
    )
    with pytest.raises(AirflowFailException) as err:
        finalize.execute(context={})
    assert str(err.value) == (
        "The 'max_reject_fraction' parameter of FinalizePartitionOperator must be a number in [0, 1]. "
        "Got '5%' instead."
    )
