"""End to end: the real mlops_validation DAG in dag.test() against the moto S3 server.

A rejected batch fails validate_batch and the downstream task never runs;
a clean batch passes and the downstream task sees its verdict.
"""

from __future__ import annotations

from datetime import date

import pendulum
import pytest
from dag_runs import task_states

from mlops import artifacts, storage
from mlops.dev import datagen

pytestmark = pytest.mark.e2e

BUCKET = "mlops-test"
GOOD_DAY, BAD_DAY = date(2026, 1, 1), date(2026, 1, 2)


def test_downstream_does_not_run_after_a_failed_validation(dagbag, server_s3, credit_cfg):
    datagen.seed_dataset(
        server_s3,
        BUCKET,
        credit_cfg,
        start=GOOD_DAY,
        days=2,
        rows_per_day=300,
        scenario=datagen.Scenario(bad_days=(BAD_DAY,)),
        log=lambda m: None,
    )
    dag = dagbag.get_dag("mlops_validation")
    assert dag is not None, dagbag.import_errors

    bad = dag.test(
        logical_date=pendulum.datetime(2026, 1, 2, tz="UTC"),
        run_conf={"dataset": "credit", "date": BAD_DAY.isoformat()},
    )
    assert bad.state == "failed"
    states = task_states(bad)
    assert states["validate_batch"] == "failed"
    assert states["summarize_batches"] == "upstream_failed"  # never ran
    bad_uri = artifacts.batch_uri(BUCKET, "credit", BAD_DAY)
    q_uri = artifacts.quarantine_uri(bad_uri)
    assert storage.get_bytes(server_s3, q_uri) == storage.get_bytes(server_s3, bad_uri)
    rejected = artifacts.read_artifact(server_s3, artifacts.validation_uri(q_uri), artifacts.ValidationResult)
    assert rejected.verdict == "rejected" and rejected.batch_uri == bad_uri
    assert rejected.quarantine_uri == q_uri

    good = dag.test(
        logical_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        run_conf={"dataset": "credit", "date": None},  # no date -> the logical date
    )
    assert good.state == "success"
    assert task_states(good) == {"validate_batch": "success", "summarize_batches": "success"}
    verdicts = good.get_task_instance("summarize_batches").xcom_pull(task_ids="summarize_batches")
    assert [(v["date"], v["verdict"]) for v in verdicts] == [
        (GOOD_DAY.isoformat(), "accepted"),
        (BAD_DAY.isoformat(), "rejected"),
    ]
