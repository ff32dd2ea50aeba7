"""End to end: the real mlops_batch_scoring DAG in dag.test() against the moto S3 server.

A clean day is waited for, planned, validated, scored in two mapped shards and
published (identical to unsharded scoring); a bad day stops at validate_batch and
nothing is published.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pendulum
import pytest
from dag_runs import task_states

from mlops import artifacts, models, scoring, storage
from mlops.dev import datagen
from tests.conftest import publish_forced

pytestmark = pytest.mark.e2e

BUCKET = "mlops-test"
GOOD_DAY, BAD_DAY = date(2026, 1, 10), date(2026, 1, 11)


@pytest.fixture
def small_chunks(monkeypatch):
    """Score in chunks of 500 rows so a 2,000-row day splits into real shards (tasks run in-process)."""
    import mlops_operators.scoring as ops
    from mlops.config import load_dataset_config

    def config(dataset: str):
        cfg = load_dataset_config(dataset)
        return cfg.model_copy(update={"scoring": cfg.scoring.model_copy(update={"chunk_size": 500})})

    monkeypatch.setattr(ops, "_config", config)
    return config


def _publish_model(client, cfg, features, labels) -> str:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    from mlops import training

    df = features.merge(labels, on=cfg.id_column)
    model = Pipeline(
        [
            ("preprocess", training.make_preprocessor(cfg)),
            ("model", HistGradientBoostingClassifier(max_iter=20, random_state=0)),
        ]
    ).fit(models.feature_frame(df, cfg), models.target_array(df, cfg))
    return publish_forced(client, BUCKET, model, "dag-test")


def test_dag_shape(dagbag):
    from airflow.sdk import AssetOrTimeSchedule

    dag = dagbag.get_dag("mlops_batch_scoring")
    assert dag is not None, dagbag.import_errors
    assert isinstance(dag.timetable, AssetOrTimeSchedule) or "AssetOrTime" in type(dag.timetable).__name__
    assert set(dag.params) == {"dataset", "date", "version", "shards"}
    assert dag.params["dataset"] == "all"  # a default run scores every dataset (one run each)
    assert [t.task_id for t in dag.get_task("wait_for_batch").upstream_list] == ["route_datasets"]
    assert dag.params["version"] == "production" and dag.params["shards"] == 1 and dag.params["date"] is None
    assert dag.max_active_runs == 1
    sensor = dag.get_task("wait_for_batch")
    assert sensor.deferrable or sensor.mode == "reschedule"  # never holds a worker slot while waiting
    assert sensor.timeout == 6 * 3600
    assert [t.task_id for t in dag.get_task("finalize_partition").upstream_list] == ["score_batch"]


def test_scoring_dag_scores_a_clean_day_in_shards_and_stops_on_a_bad_day(
    dagbag, server_s3, credit_cfg, small_chunks, capfd, caplog
):
    datagen.seed_dataset(
        server_s3,
        BUCKET,
        credit_cfg,
        start=GOOD_DAY,
        days=2,
        rows_per_day=2000,
        today=date(2026, 1, 20),  # labels of both days have arrived
        scenario=datagen.Scenario(bad_days=(BAD_DAY,)),
        log=lambda m: None,
    )
    features = storage.read_table(server_s3, artifacts.batch_uri(BUCKET, "credit", GOOD_DAY))
    labels = storage.read_table(server_s3, artifacts.labels_uri(BUCKET, "credit", GOOD_DAY))
    version = _publish_model(server_s3, credit_cfg, features, labels)
    dag = dagbag.get_dag("mlops_batch_scoring")

    dr = dag.test(
        logical_date=pendulum.datetime(2026, 1, 10, 4, tz="UTC"),
        run_conf={"dataset": "credit", "shards": 2},  # date empty -> the logical date
    )
    assert dr.state == "success", task_states(dr)
    out_err = capfd.readouterr()
    logged = out_err.out + out_err.err + caplog.text
    assert "finalize_partition" in logged  # the run's log is captured here
    assert "XCom not found" not in logged  # a successful run logs no error reading the shard results
    assert task_states(dr) == {
        "route_datasets": "success",  # one dataset asked: no fan-out
        "plan_fan_out": "skipped",
        "fan_out": "skipped",
        "wait_for_batch": "success",
        "plan_scoring": "success",
        "validate_batch": "success",
        "score_batch": "success",
        "finalize_partition": "success",
    }
    assert len([ti for ti in dr.get_task_instances() if ti.task_id == "score_batch"]) == 2
    out = artifacts.predictions_prefix(BUCKET, "credit", GOOD_DAY)
    result = dr.get_task_instance("finalize_partition").xcom_pull(task_ids="finalize_partition")
    assert result["success_uri"] == out + "_SUCCESS"
    assert (result["rows_scored"], result["model_version"], result["num_shards"]) == (2000, version, 2)
    sharded = scoring.read_predictions(server_s3, out)
    assert set(sharded["run_id"]) == {dr.run_id} and set(sharded["model_version"]) == {version}
    marker = scoring.read_success(server_s3, out)
    assert marker.part_uris == result["part_uris"] and [p.shard for p in marker.parts] == [0, 1]

    unsharded = scoring.score_batch(
        server_s3,
        small_chunks("credit"),
        input_uri=artifacts.batch_uri(BUCKET, "credit", GOOD_DAY),
        output_uri=f"s3://{BUCKET}/check/unsharded/",
        bucket=BUCKET,
        run_id=dr.run_id,
        shards=1,
    )
    pd.testing.assert_frame_equal(sharded, scoring.read_predictions(server_s3, unsharded.output_uri))

    bad = dag.test(
        logical_date=pendulum.datetime(2026, 1, 12, 4, tz="UTC"),
        run_conf={"dataset": "credit", "date": BAD_DAY.isoformat()},
    )
    assert bad.state == "failed"
    states = task_states(bad)
    assert states["validate_batch"] == "failed"
    assert states["score_batch"] == "upstream_failed" and states["finalize_partition"] == "upstream_failed"
    assert storage.list_uris(server_s3, artifacts.predictions_prefix(BUCKET, "credit", BAD_DAY)) == []


def test_late_batch_defers_the_sensor_then_scores(dagbag, server_s3, credit_cfg, monkeypatch):
    """The batch lands after the run starts: the sensor defers (the trigger polls S3) and the run succeeds."""
    import threading

    late_day = date(2026, 1, 13)
    datagen.seed_dataset(
        server_s3, BUCKET, credit_cfg, start=GOOD_DAY, days=1, rows_per_day=1000, log=lambda m: None
    )
    features = storage.read_table(server_s3, artifacts.batch_uri(BUCKET, "credit", GOOD_DAY))
    _, labels = datagen.generate_day(credit_cfg, GOOD_DAY, 1000)
    _publish_model(server_s3, credit_cfg, features, labels)
    late_features, _ = datagen.generate_day(credit_cfg, late_day, 800)
    late_uri = artifacts.batch_uri(BUCKET, "credit", late_day)
    assert not storage.exists(server_s3, late_uri)

    dag = dagbag.get_dag("mlops_batch_scoring")
    sensor = dag.get_task("wait_for_batch")
    assert sensor.deferrable
    sensor.poke_interval = 1  # the DAG polls every 5 min; the test cannot wait that long
    pokes: list[bool] = []
    timers: list[threading.Timer] = []
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    real_poke = S3KeySensor.poke

    def poke_then_land(self, context):
        """The first poke finds nothing; the batch lands 2 s later, while the trigger is polling."""
        found = real_poke(self, context)
        pokes.append(found)
        if not found and not timers:
            timers.append(
                threading.Timer(2.0, storage.write_parquet, args=(server_s3, late_uri, late_features))
            )
            timers[0].start()
        return found

    monkeypatch.setattr(S3KeySensor, "poke", poke_then_land)
    try:
        dr = dag.test(
            logical_date=pendulum.datetime(2026, 1, 13, 4, tz="UTC"),
            run_conf={
                "dataset": "credit",
                "date": late_day.isoformat(),
                "version": "production",
                "shards": 1,
            },
        )
    finally:
        for t in timers:
            t.cancel()
    assert pokes[0] is False, "the batch must be missing when the sensor first looks"
    assert dr.state == "success", task_states(dr)
    ti = dr.get_task_instance("wait_for_batch")
    assert ti.try_number == 1, "the sensor must defer, not fail and retry"
    assert ti.state == "success" and ti.trigger_id is not None  # it went through a trigger, then resumed
    result = dr.get_task_instance("finalize_partition").xcom_pull(task_ids="finalize_partition")
    assert result["rows_scored"] == 800
