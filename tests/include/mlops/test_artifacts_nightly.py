"""The nightly monitoring artifacts: round trips, derived keys, strict readers, builders."""

from __future__ import annotations

import json

import pytest

from mlops import artifacts as a
from mlops.artifacts.nightly import (
    AlertEvent,
    DayPerformance,
    HistoryRecord,
    MonitoringReport,
    NightVerdict,
    PerformanceReport,
    RetrainRequest,
    RuleOutcome,
)
from mlops.errors import ArtifactSchemaError
from tests.include.mlops.test_monitoring_report import drift_report

B, DS, DAY, TS = "mlops-test", "credit", "2026-02-17", "2026-02-17T03:00:00Z"


def performance() -> PerformanceReport:
    day = DayPerformance(
        DAY, "realised", 500, {"roc_auc": 0.8, "confusion_matrix": {"0": {"0": 3}}}, ["v0007"]
    )
    return PerformanceReport(
        dataset=DS, day=DAY, task="classification", model_version="v0007", run_id="night1", window_days=4,
        baseline={"roc_auc": 0.85}, days=[day], realised={"roc_auc": 0.8, "n": 500, "days": 1}, estimated={},
        performance_uri=a.performance_uri(B, DS, DAY),
    )  # fmt: skip


def rules() -> list[RuleOutcome]:
    return [
        RuleOutcome("share", "dataset_drift", True, True, "drifted share 0.50 >= 0.3", 0.5, 0.3, ["age"]),
        RuleOutcome("psi_top", "psi_top_features", True, False, "max psi 0.6 > 0.25", 0.6, 0.25, ["age"]),
        RuleOutcome("auc", "metric_drop", False, True, "roc_auc drop 0.05 <= 0.1", 0.05, 0.1),
    ]


def night(rule_list=None) -> NightVerdict:
    return NightVerdict(
        dataset=DS, day=DAY, verdict="ALERT", drift_verdict="WARN", model_version="v0007", run_id="night1",
        rules=rules() if rule_list is None else rule_list, report_uri=a.report_uri(B, DS, DAY),
        report_json_uri=a.report_json_uri(B, DS, DAY), history_uri=a.history_uri(B, DS, DAY),
        night_uri=a.night_uri(B, DS, DAY), alert_uri=a.alert_uri(B, DS, DAY), evaluated_at=TS,
    )  # fmt: skip


def history() -> HistoryRecord:
    return HistoryRecord(
        DS, DAY, "ALERT", "v0007", ["share"], True, True, 0.5, ["age"], {"age": 0.6}, 0.12,
        {"roc_auc": 0.85}, {"roc_auc": 0.8}, {}, performance().days,
    )  # fmt: skip


def everything():
    n = night()
    report = MonitoringReport(
        dataset=DS, day=DAY, verdict="ALERT", report_uri=a.report_uri(B, DS, DAY), drift=drift_report(),
        performance=performance(), night=n, history=[history()], rendered_at=TS,
    )  # fmt: skip
    return [performance(), n, AlertEvent.of(n), RetrainRequest.of(n, run_id="night1"), history(), report]


@pytest.mark.parametrize("artifact", everything(), ids=lambda x: x.KIND)
def test_every_nightly_artifact_round_trips_in_s3(s3, bucket, artifact):
    uri = f"s3://{bucket}/monitoring/{DS}/{artifact.KIND}.json"
    a.write_artifact(s3, uri, artifact)
    assert a.read_artifact(s3, uri, type(artifact)) == artifact
    data = json.loads(artifact.to_json_bytes())
    assert data["kind"] == artifact.KIND and data["schema_version"] == 1
    json.dumps(data, allow_nan=False)


@pytest.mark.parametrize("artifact", everything(), ids=lambda x: x.KIND)
def test_readers_reject_other_versions_kinds_and_unknown_fields(artifact):
    cls, data = type(artifact), artifact.to_dict()
    with pytest.raises(
        ArtifactSchemaError, match=f"{cls.KIND} at x has schema_version 2; this code reads version 1"
    ):
        cls.from_dict({**data, "schema_version": 2}, source="x")
    with pytest.raises(ArtifactSchemaError, match=f"is a 'drift_report', expected a '{cls.KIND}'"):
        cls.from_dict({**data, "kind": "drift_report"}, source="x")
    with pytest.raises(ArtifactSchemaError, match=r"unknown field\(s\) \['context'\]"):
        cls.from_dict({**data, "context": {}}, source="x")


def test_derived_keys_are_written_and_recomputed():
    n = night()
    data = n.to_dict()
    assert data["fired"] == ["share", "psi_top"] and data["retrain"] is True
    assert NightVerdict.from_dict({**data, "fired": ["stale"], "retrain": False}).fired == [
        "share",
        "psi_top",
    ]
    quiet = night([r for r in rules() if not r.fired])
    assert quiet.fired == [] and not quiet.retrain and quiet.retrain_reasons == []
    perf = performance().to_dict()
    assert perf["summary"] == "realised (1 days, n=500): roc_auc=0.800 vs holdout roc_auc=0.850"
    assert PerformanceReport(**{**performance().__dict__, "realised": {}}).summary == (
        "no scored days in the performance window"
    )


def test_builders_take_what_fired_from_the_night():
    n = night()
    event = AlertEvent.of(n)
    assert event.fired == ["share", "psi_top"] and event.retrain and event.night_uri == n.night_uri
    request = RetrainRequest.of(n, run_id="night1")
    assert [r.name for r in request.reasons] == ["share"]  # fired AND retrain: true
    assert request.verdict == "ALERT" and request.report_uri == n.report_uri
    assert a.parse_utc_iso(request.created_at).tzinfo is not None
    with pytest.raises(ArtifactSchemaError, match="retrain_request of credit 2026-02-17 has no reasons"):
        RetrainRequest.of(night([]))


def test_fields_are_checked_at_construction():
    with pytest.raises(
        ArtifactSchemaError, match="night_verdict.day must be a day like 2026-02-17. Got '17/02'"
    ):
        NightVerdict(**{**night().__dict__, "day": "17/02"})
    with pytest.raises(ArtifactSchemaError, match="'verdict' field of night_verdict must be one of"):
        NightVerdict(**{**night().__dict__, "verdict": "PANIC"})
    with pytest.raises(ArtifactSchemaError, match="evaluated_at must be a UTC timestamp"):
        NightVerdict(**{**night().__dict__, "evaluated_at": "2026-02-17T03:00:00+00:00"})
    with pytest.raises(ArtifactSchemaError, match="'source' field of DayPerformance must be one of"):
        DayPerformance(DAY, "guessed", 1, {}, [])
    with pytest.raises(ArtifactSchemaError, match="'task' field of performance_report"):
        PerformanceReport(**{**performance().__dict__, "task": "ranking"})
