"""End to end: the real mlops_training DAG in dag.test() against the moto S3 server.

The first run validates the window in one task, trains, blesses, publishes and promotes v0001 (no
production yet: floors decide). A second run with a deliberately weak estimator (dummy) reuses every
day's recorded validation result and is NOT BLESSED: the run stays green, publish and promote are
skipped, and the registry is unchanged.
"""

from __future__ import annotations

from datetime import date

import pendulum
import pytest
from dag_runs import task_states, work_states

from mlops import artifacts, storage
from mlops.dev import datagen
from mlops.registry import ModelRegistry
from tests.include.mlops.training_world import END, seed_validated

pytestmark = pytest.mark.e2e

BUCKET = "mlops-test"
#: Every Param, every run: in-process dag.test() runs share the DAG object, and Airflow 3.3.2 writes a
#: run's conf into the shared Param objects, so a value left out would leak from the previous run.
DEFAULTS = {
    "dataset": "credit",
    "window_days": 12,
    "estimator": None,
    "search": "config",
    "force_promote": False,
    "skip_rejected_batches": False,
}


def _xcom(dag_run, task_id):
    return dag_run.get_task_instance(task_id).xcom_pull(task_ids=task_id)


def test_blessed_then_rejected_challenger(dagbag, server_s3, credit_cfg):
    seed_validated(server_s3, BUCKET, credit_cfg)  # fake results (no source): validate_window re-validates
    dag = dagbag.get_dag("mlops_training")
    assert dag is not None, dagbag.import_errors
    logical = pendulum.datetime(END.year, END.month, END.day, tz="UTC")

    first = dag.test(logical_date=logical, run_conf={**DEFAULTS, "reason": "first"})
    assert first.state == "success"
    assert set(work_states(first).values()) == {"success"}, task_states(first)
    window = _xcom(first, "validate_window")
    assert window["validated"] == len(window["accepted"]) >= 7 and window["reused"] == 0
    gate = _xcom(first, "gate_model")
    assert gate["blessed"] and gate["baseline_version"] is None
    registry = ModelRegistry(server_s3, BUCKET, "credit")
    assert registry.versions() == ["v0001"] and registry.pointer("production").version == "v0001"
    manifest = registry.manifest("v0001")
    assert manifest.blessing.blessed is True
    assert manifest.training_data.data_hash == _xcom(first, "train_model")["data_hash"]
    card = storage.get_bytes(server_s3, gate["model_card_uri"]).decode()
    assert "VERDICT: BLESSED" in card and card.count("data:image/png;base64,") >= 6

    weak = dag.test(
        logical_date=logical,
        run_conf={**DEFAULTS, "estimator": "dummy", "search": "none", "reason": "weak challenger"},
    )
    assert weak.state == "success"  # a rejected challenger is not an error
    assert _xcom(weak, "validate_window")["reused"] == window["validated"]  # same versions, same suite
    states = task_states(weak)
    assert states["gate_model"] == "success"
    assert states["publish_model"] == states["promote_model"] == "skipped"
    verdict = _xcom(weak, "gate_model")
    assert not verdict["blessed"] and verdict["baseline_version"] == "v0001"
    assert {"min_roc_auc", "roc_auc_vs_production"} <= set(verdict["failed"])
    assert registry.versions() == ["v0001"] and registry.pointer("production").version == "v0001"


def test_rejected_batch_in_window_stops_training_unless_skipped(dagbag, server_s3, credit_cfg):
    """A bad day in the window: by default the run fails before training; skip_rejected_batches drops it."""
    start, bad_day = date(2026, 1, 1), date(2026, 1, 8)
    datagen.seed_dataset(
        server_s3,
        "mlops-test",
        credit_cfg,
        start=start,
        days=12,
        rows_per_day=300,
        today=date(2026, 1, 20),
        scenario=datagen.Scenario(bad_days=(bad_day,)),
        log=lambda m: None,
    )
    dag = dagbag.get_dag("mlops_training")
    conf = {
        "dataset": "credit",
        "window_days": 12,
        "estimator": "logistic_regression",
        "search": "none",
        "force_promote": False,
        "reason": "pytest: bad day in window",
    }
    strict = dag.test(
        logical_date=pendulum.datetime(2026, 1, 12, 2, tz="UTC"),
        run_conf={**conf, "skip_rejected_batches": False},
    )
    states = task_states(strict)
    assert strict.state == "failed"
    assert states["validate_window"] == "failed" and states["train_model"] == "upstream_failed"
    assert storage.exists(
        server_s3, artifacts.quarantine_uri(artifacts.batch_uri("mlops-test", "credit", bad_day))
    )
    assert storage.list_uris(server_s3, "s3://mlops-test/candidates/") == []

    lenient = dag.test(
        logical_date=pendulum.datetime(2026, 1, 12, 3, tz="UTC"),
        run_conf={**conf, "skip_rejected_batches": True},
    )
    assert lenient.state == "success", task_states(lenient)
    prefix = lenient.get_task_instance("train_model").xcom_pull(
        task_ids="train_model", key="candidate_prefix"
    )
    used = artifacts.read_artifact(
        server_s3, artifacts.training_uri(prefix), artifacts.TrainingRecord
    ).data_uris
    assert artifacts.batch_uri("mlops-test", "credit", bad_day) not in used
    assert artifacts.batch_uri("mlops-test", "credit", date(2026, 1, 7)) in used
