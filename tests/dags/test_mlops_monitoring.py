"""End to end: ``mlops_monitoring`` with ``dag.test()`` on a quiet and on a drifted night.

The retrain request (S3 object and Asset event) must happen on the drifted night only.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mlops import artifacts, storage
from mlops.artifacts.nightly import NightVerdict, RetrainRequest
from tests.plugins.monitoring_world import DRIFT_NIGHT, QUIET_NIGHT, build_world

BUCKET = "mlops-test"  # the server_s3 fixture's bucket (tests/conftest.py)
#: Airflow normalises the asset URI (no trailing slash).
RETRAIN_ASSET_URI = f"s3://{BUCKET}/monitoring/credit/retrain_requests"


def _states(dag_run) -> dict[str, str]:
    out = {}
    for ti in dag_run.get_task_instances():
        out[ti.task_id] = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
    return out


def _retrain_events() -> list:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == RETRAIN_ASSET_URI)
        ).all()
        return [dict(e.extra or {}) for e in rows]


def _run(dagbag, night):
    dag = dagbag.get_dag("mlops_monitoring")
    return dag.test(
        logical_date=datetime(night.year, night.month, night.day, 6, tzinfo=UTC),
        run_conf={"dataset": "credit", "date": night.isoformat()},
    )


@pytest.mark.e2e
def test_monitoring_dag_requests_a_retrain_only_on_the_drifted_night(dagbag, server_s3, credit_cfg):
    build_world(server_s3, BUCKET, credit_cfg)
    before = len(_retrain_events())

    quiet = _run(dagbag, QUIET_NIGHT)
    assert quiet.state == "success"
    states = _states(quiet)
    assert states["monitor_drift"] == states["monitor_performance"] == states["evaluate_alerts"] == "success"
    assert states["retrain_gate"] == "success" and states["request_retrain"] == "skipped"
    assert not storage.exists(
        server_s3, artifacts.retrain_request_uri(BUCKET, "credit", QUIET_NIGHT.isoformat())
    )
    assert len(_retrain_events()) == before
    night = artifacts.read_artifact(
        server_s3, artifacts.night_uri(BUCKET, "credit", QUIET_NIGHT), NightVerdict
    )
    assert night.verdict == "OK" and not night.retrain

    drifted = _run(dagbag, DRIFT_NIGHT)
    assert drifted.state == "success"
    assert _states(drifted)["request_retrain"] == "success"
    request = artifacts.read_artifact(
        server_s3, artifacts.retrain_request_uri(BUCKET, "credit", DRIFT_NIGHT.isoformat()), RetrainRequest
    )
    assert request.reasons[0].name == "dataset_drift" and request.verdict == "ALERT"
    events = _retrain_events()
    assert len(events) == before + 1
    assert events[-1]["request_uri"].endswith("retrain_requests/2026-01-12.json")
    assert storage.exists(server_s3, artifacts.alert_uri(BUCKET, "credit", DRIFT_NIGHT.isoformat()))
    page = storage.get_bytes(server_s3, artifacts.report_uri(BUCKET, "credit", DRIFT_NIGHT))
    assert b"ALERT" in page and b"data:image/png;base64," in page
