"""mlops_rollback and mlops_retention end to end with dag.test() against the moto server."""

from __future__ import annotations

from pathlib import Path

import pendulum
import pytest
from dag_runs import task_states

from mlops.registry import ModelRegistry
from tests.conftest import write_candidate

BUCKET = "mlops-test"
DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def registry_dags(airflow_db):
    """Only this area's DAG files, so dag.test() does not depend on other DAGs serializing."""
    from airflow.dag_processing.dagbag import DagBag

    bags = {
        name: DagBag(dag_folder=str(DAGS / f"{name}.py")) for name in ("mlops_rollback", "mlops_retention")
    }
    for bag in bags.values():
        assert not bag.import_errors, bag.import_errors
    return {name: bag.get_dag(name) for name, bag in bags.items()}


def _model_bytes():
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from mlops.serialization import dump_model

    rng = np.random.default_rng(2)
    X = pd.DataFrame({"income": rng.normal(size=80)})
    return dump_model(LogisticRegression().fit(X, (X["income"] > 0).astype(int)))


def _seed_registry(client, versions: int, promote: list[str]) -> ModelRegistry:
    blob = _model_bytes()
    reg = ModelRegistry(client, BUCKET, "credit")
    for i in range(versions):
        prefix = write_candidate(client, BUCKET, f"seed-{i}", blob, features={"income": "numeric"})
        reg.publish(candidate_uri=prefix, run={"dag_id": "seed", "run_id": f"seed-{i}"})
    for v in promote:
        current = reg.pointer()
        reg.promote(
            v, expected_etag=current.etag if current else None, reason="seeded promotion", actor="seed"
        )
    return reg


def test_rollback_dag_params_form(registry_dags):
    dag = registry_dags["mlops_rollback"]
    params = dag.params
    from mlops.config import available_datasets

    assert params.get_param("dataset").schema["enum"] == available_datasets()
    assert {"credit", "diabetes"} <= set(available_datasets())
    assert params.get_param("dataset").schema["title"] == "Model"
    assert params.get_param("reason").schema["minLength"] == 10
    assert params.get_param("target_version").value is None
    assert type(dag.timetable).__name__ == "NullTimetable"  # schedule=None: triggered from the UI


@pytest.mark.e2e
def test_rollback_then_retention_then_refused_rollback(registry_dags, server_s3):
    reg = _seed_registry(
        server_s3, versions=4, promote=["v0002", "v0003"]
    )  # production v0003, previous v0002

    rollback = registry_dags["mlops_rollback"]
    dr = rollback.test(
        logical_date=pendulum.datetime(2026, 2, 15, tz="UTC"),
        run_conf={"dataset": "credit", "reason": "v0003 misbehaves on region north"},
    )
    assert dr.state == "success", task_states(dr)
    pointer = reg.pointer()
    assert (pointer.version, pointer.previous_version, pointer.action) == ("v0002", "v0003", "rollback")
    assert "mlops_rollback" in pointer.actor and pointer.reason == "v0003 misbehaves on region north"
    assert reg.history()[-1]["action"] == "rollback"

    retention = registry_dags["mlops_retention"]
    dr = retention.test(
        logical_date=pendulum.datetime(2026, 2, 22, tz="UTC"),
        run_conf={"dataset": "credit", "keep_last": 1, "grace_days": 0},
    )
    assert dr.state == "success", task_states(dr)
    # v0004 is the newest, v0002 is production, v0003 its previous version: only v0001 goes.
    assert [v for v in reg.versions() if reg.is_retired(v)] == ["v0001"]

    dr = rollback.test(
        logical_date=pendulum.datetime(2026, 2, 23, tz="UTC"),
        run_conf={
            "dataset": "credit",
            "target_version": "v0001",
            "reason": "try to roll back to a retired version",
        },
    )
    assert dr.state == "failed"
    assert task_states(dr) == {"rollback_model": "failed"}
    after = reg.pointer()
    assert (after.version, after.etag) == (pointer.version, pointer.etag)
    assert after.updated_at == pointer.updated_at
