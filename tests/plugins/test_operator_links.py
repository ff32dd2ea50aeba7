"""Extra links of the validation, scoring and monitoring operators open the UI's artifact viewer.

Each operator runs for real against the moto server; its link must be a viewer path for an
object that exists and that the viewer is allowed to serve.
"""

from __future__ import annotations

from datetime import date

import pytest

from mlops import artifacts, storage
from mlops.tracking import viewer
from mlops_operators.links import (
    DataDocsLink,
    DriftReportLink,
    ScoringManifestLink,
    ValidationResultLink,
    VersionModelCardLink,
    viewer_url,
)
from tests.plugins.monitoring_world import DRIFT_NIGHT, build_world

BUCKET = "mlops-test"  # the bucket of the server_s3 fixture (tests/conftest.py)
PREFIX = f"{viewer.UI_PREFIX}/artifacts/{BUCKET}/"


def _served_object(client, url: str) -> str:
    """The ``s3://`` URI behind a viewer link, checked: allowed by the viewer and present in S3."""
    assert url.startswith(PREFIX), url
    key = url[len(PREFIX) :]
    assert viewer.artifact_kind(BUCKET, key) is not None, f"the viewer would refuse {key}"
    uri = f"s3://{BUCKET}/{key}"
    assert storage.exists(client, uri), f"{uri} does not exist"
    return uri


def test_viewer_url_uses_the_api_base_path(monkeypatch):
    uri = f"s3://{BUCKET}/candidates/credit/r1__ab/model_card.html"
    assert viewer_url(uri) == f"{PREFIX}candidates/credit/r1__ab/model_card.html"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/team-a/")
    assert viewer_url(uri) == f"/team-a{PREFIX}candidates/credit/r1__ab/model_card.html"
    assert viewer_url(None) == "" and viewer_url("") == ""


def test_links_stay_empty_until_execute_sets_them():
    from mlops_operators.validation import ValidateBatchOperator

    op = ValidateBatchOperator(task_id="v", dataset="credit", batch_uri="s3://b/k.parquet")
    assert [link.name for link in op.operator_extra_links] == ["Data Docs", "Validation result"]
    assert DataDocsLink().get_link(op, ti_key=None) == ""
    assert DataDocsLink().xcom_key != ValidationResultLink().xcom_key


def test_every_link_keeps_its_button_name_and_xcom_key_through_serialization(monkeypatch):
    """Airflow stores a link's URL under ``_link_<class name>`` and a task's links as ``{name: xcom_key}``."""
    from airflow.serialization.serialized_objects import OperatorSerialization

    # a class-wide switch that other deserializations in the same process (load_op_links=False) turn off
    monkeypatch.setattr(OperatorSerialization, "_load_operator_extra_links", True)

    from mlops_operators.monitoring import MonitorDriftOperator
    from mlops_operators.scoring import FinalizePartitionOperator, PlanScoringOperator
    from mlops_operators.validation import ValidateBatchOperator

    expected = {
        DataDocsLink: ("Data Docs", "data_docs_uri"),
        ValidationResultLink: ("Validation result", "validation_result_uri"),
        DriftReportLink: ("Drift report", "drift_report_uri"),
        ScoringManifestLink: ("Scoring manifest", "scoring_manifest_uri"),
        VersionModelCardLink: ("Model card", "model_card_uri"),
    }
    for cls, (name, attr) in expected.items():
        link = cls()
        assert (link.name, link.attr, link.xcom_key) == (name, attr, f"_link_{cls.__name__}")
        assert cls.__module__ == "mlops_operators.links" and cls.__qualname__ == cls.__name__

    operators = [
        ValidateBatchOperator(task_id="v", dataset="credit", batch_uri="s3://b/k.parquet"),
        MonitorDriftOperator(task_id="m", dataset="credit", date="2026-01-12"),
        PlanScoringOperator(task_id="p", dataset="credit", input_uri="s3://b/i", output_uri="s3://b/o/"),
        FinalizePartitionOperator(task_id="f", dataset="credit", shard_results=[]),
    ]
    for op in operators:
        encoded = OperatorSerialization.serialize_operator(op)
        stored = {link.name: link.xcom_key for link in op.operator_extra_links}
        assert encoded["_operator_extra_links"] == stored and stored
        back = OperatorSerialization.deserialize_operator(encoded)
        assert {link.name: link.xcom_key for link in back.operator_extra_links} == stored
    uri = f"s3://{BUCKET}/monitoring/credit/2026-01-12/report.html"
    operators[1].drift_report_uri = uri
    assert DriftReportLink().get_link(operators[1], ti_key=None) == viewer_url(uri)


@pytest.mark.e2e
def test_validation_scoring_and_monitoring_links_point_at_served_reports(server_s3, credit_cfg):
    from mlops_operators.monitoring import EvaluateAlertsOperator, MonitorDriftOperator
    from mlops_operators.scoring import FinalizePartitionOperator, PlanScoringOperator, ScoreBatchOperator
    from mlops_operators.validation import ValidateBatchOperator

    world = build_world(server_s3, BUCKET, credit_cfg)
    day = date(2026, 1, 8)  # seeded, not scored by the world
    batch = artifacts.batch_uri(BUCKET, "credit", day)

    validate = ValidateBatchOperator(task_id="validate_batch", dataset="credit", batch_uri=batch)
    checked = validate.execute(context={})
    docs = _served_object(server_s3, DataDocsLink().get_link(validate, ti_key=None))
    assert docs == checked["docs_uri"] and storage.get_bytes(server_s3, docs).startswith(b"<")
    result = _served_object(server_s3, ValidationResultLink().get_link(validate, ti_key=None))
    assert artifacts.read_artifact(server_s3, result, artifacts.ValidationResult).success

    common = {"dataset": "credit", "bucket": BUCKET}
    plan_op = PlanScoringOperator(
        task_id="plan_scoring",
        input_uri=batch,
        output_uri=artifacts.predictions_prefix(BUCKET, "credit", day),
        **common,
    )
    plan = plan_op.execute(context={})
    assert VersionModelCardLink().get_link(plan_op, ti_key=None) == ""  # this version has no model card
    card_uri = f"s3://{BUCKET}/models/credit/versions/{world['version']}/model_card.html"
    storage.put_bytes(server_s3, card_uri, b"<title>Model card: credit</title>", content_type="text/html")
    plan_op.execute(context={})
    assert _served_object(server_s3, VersionModelCardLink().get_link(plan_op, ti_key=None)) == card_uri
    shard = ScoreBatchOperator(task_id="score_batch", dataset="credit", plan=plan[0]).execute(context={})
    finalize = FinalizePartitionOperator(
        task_id="finalize_partition", dataset="credit", shard_results=[shard]
    )
    finalize.execute(context={})
    manifest = _served_object(server_s3, ScoringManifestLink().get_link(finalize, ti_key=None))
    assert (
        artifacts.read_artifact(server_s3, manifest, artifacts.SuccessMarker).rows_scored
        == shard["rows_scored"]
    )

    night = {"dataset": "credit", "date": DRIFT_NIGHT.isoformat(), "bucket": BUCKET}
    drift = MonitorDriftOperator(task_id="monitor_drift", **night)
    drift.execute(context={})
    alerts = EvaluateAlertsOperator(task_id="evaluate_alerts", **night)
    alerts.execute(context={})
    report = _served_object(server_s3, DriftReportLink().get_link(alerts, ti_key=None))
    assert DriftReportLink().get_link(drift, ti_key=None) == DriftReportLink().get_link(alerts, ti_key=None)
    assert b"<title>Monitoring credit" in storage.get_bytes(server_s3, report)
