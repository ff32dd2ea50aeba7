"""The monitoring report rendered from fixture artifacts: sections, tables and embedded plots."""

from __future__ import annotations

import base64
import re

import pytest

from mlops import artifacts as a
from mlops import monitoring
from mlops.artifacts.nightly import (
    DayPerformance,
    HistoryRecord,
    MonitoringReport,
    NightVerdict,
    PerformanceReport,
    RuleOutcome,
)
from mlops.errors import ArtifactSchemaError

B, DS, DAY, TS = "mlops-test", "credit", "2026-02-17", "2026-02-17T03:00:00Z"
TH = a.DriftThresholds(0.1, 0.25, 0.05, 0.1, 0.05)
PNG_SRC = re.compile(r"<img alt='([^']*)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'/>")


def feature(name: str, status: str, drift: bool, psi: float, *, kind: str = "numeric") -> a.FeatureDrift:
    if kind == "numeric":
        plot = {
            "type": "histogram",
            "edges": [0.0, 1.0, 2.0, 3.0],
            "ref": [0.2, 0.5, 0.3],
            "cur": [0.1, 0.3, 0.6],
        }
        method, summary = "ks", {"mean": 40.0, "std": 9.5, "p05": 25.0, "p50": 39.0, "p95": 58.0}
    else:
        plot = {"type": "bar", "categories": ["north", "south"], "ref": [0.6, 0.4], "cur": [0.2, 0.8]}
        method, summary = "chi2", {"top": {"north": 0.6, "south": 0.4}, "categories": 2}
    return a.FeatureDrift(
        name, kind, method, 0.2, 0.01, 0.001 if drift else 0.4, 0.05, drift, psi, 0.01, 0.0, 0.02, False, drift,
        status, 1000, 1200, TH, ref_summary=summary, cur_summary=summary, plot=plot,
    )  # fmt: skip


def drift_report() -> a.DriftReport:
    return a.DriftReport(
        dataset=DS, day=DAY, model_version="v0007", run_id="night1", verdict="ALERT", dataset_drift=True,
        drift_share=0.5, drift_share_limit=0.3, weighted=False, n_ref=1000, n_cur=1200, p_value_adjust="holm",
        features=[
            feature("income", "ok", False, 0.02),
            feature("age", "alert", True, 0.6),
            feature("region", "warn", True, 0.15, kind="categorical"),
        ],
        prediction=feature("prediction", "warn", True, 0.12),
        reference_uri=a.reference_profile_uri(f"s3://{B}/models/{DS}/versions/v0007/"),
        reference_window={"start": "2026-01-20", "end": "2026-02-02", "window_days": 14},
        current_window={"start": "2026-02-15", "end": DAY, "days": ["2026-02-15", DAY], "requested_days": 3,
                        "skipped": {"2026-02-16": "not scored"}},
        prediction_rows=1200, drift_uri=a.drift_uri(B, DS, DAY), report_uri=a.report_uri(B, DS, DAY),
        report_json_uri=a.report_json_uri(B, DS, DAY),
    )  # fmt: skip


def performance() -> PerformanceReport:
    days = [
        DayPerformance("2026-02-15", "realised", 600, {"roc_auc": 0.79, "accuracy": 0.8}, ["v0007"]),
        DayPerformance(DAY, "estimated", 600, {"roc_auc": 0.74, "accuracy": 0.77}, ["v0007"]),
    ]
    return PerformanceReport(
        dataset=DS, day=DAY, task="classification", model_version="v0007", run_id="night1", window_days=3,
        baseline={"roc_auc": 0.85}, days=days, realised={"roc_auc": 0.79, "n": 600, "days": 1},
        estimated={"roc_auc": 0.74, "n": 600, "days": 1}, performance_uri=a.performance_uri(B, DS, DAY),
    )  # fmt: skip


def night() -> NightVerdict:
    rules = [
        RuleOutcome(
            "share", "dataset_drift", True, True, "drifted share 0.50 >= 0.3", 0.5, 0.3, ["age", "region"]
        ),
        RuleOutcome("auc", "metric_drop", False, False, "roc_auc realised 0.79 vs holdout 0.85", 0.06, 0.1),
    ]
    return NightVerdict(
        dataset=DS, day=DAY, verdict="ALERT", drift_verdict="ALERT", model_version="v0007", run_id="night1",
        rules=rules, report_uri=a.report_uri(B, DS, DAY), report_json_uri=a.report_json_uri(B, DS, DAY),
        history_uri=a.history_uri(B, DS, DAY), night_uri=a.night_uri(B, DS, DAY), alert_uri=a.alert_uri(B, DS, DAY),
        evaluated_at=TS,
    )  # fmt: skip


def history() -> list[HistoryRecord]:
    return [
        HistoryRecord(DS, "2026-02-15", "OK", "v0007", [], False, False, drift_share=0.1),
        HistoryRecord(DS, "2026-02-16", "WARN", "v0007", [], False, False, drift_share=0.2),
        HistoryRecord(DS, DAY, "ALERT", "v0007", ["share"], True, True, drift_share=0.5),
    ]


def images(page: str) -> dict[str, bytes]:
    """``{alt: PNG bytes}`` of every embedded image."""
    return {alt: base64.b64decode(data) for alt, data in PNG_SRC.findall(page)}


def test_full_report_has_every_section_and_plot():
    page = monitoring.render_html(
        drift=drift_report(), performance=performance(), night=night(), history=history()
    )
    for section in (
        "<h1>Model monitoring: credit — night 2026-02-17</h1>",
        "<h2>Alert rules — 1 fired</h2>",
        "<h2>Features (drifted first)</h2>",
        "<h2>PSI</h2>",
        "<h2>Distributions of drifted features</h2>",
        "<h2>Performance</h2>",
        "<h2>Drift history</h2>",
    ):
        assert section in page, section
    assert ">ALERT</div>" in page and "Model version <b>v0007</b>" in page
    assert "reference window 2026-01-20 … 2026-02-02 (1000 rows)" in page
    assert "2/3 days scored, 1200 rows" in page and "Drift run night1" in page
    assert "FIRED (retrain)</li>" in page and "→ quiet</li>" in page
    rows = re.findall(r"<tr><td><b>(\w+)</b></td>", page)
    assert rows == ["age", "region", "income"]  # drifted first, alert before warn
    assert "Prediction drift (numeric)" in page and "realised (1 days, n=600)" in page
    assert "<i>0.85</i>" in page  # the holdout baseline row
    pngs = images(page)
    assert set(pngs) == {"PSI per feature", "age", "region", "prediction", "performance trend", "drift trend"}
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000 for png in pngs.values())


def test_report_before_rules_and_performance_says_so():
    quiet = drift_report()
    page = monitoring.render_html(drift=quiet)
    assert "<li>Rules not evaluated yet.</li>" in page
    assert "Performance not computed yet." in page and "Not enough nights yet." in page
    assert set(images(page)) == {"PSI per feature", "age", "region", "prediction"}
    calm = a.DriftReport.from_dict(
        {**quiet.to_dict(), "features": [feature("income", "ok", False, 0.01).to_dict()], "prediction": None,
         "verdict": "OK", "dataset_drift": False, "drift_share": 0.0}
    )  # fmt: skip
    page = monitoring.render_html(drift=calm)
    assert "<p>No drifted features.</p>" in page and ">OK</div>" in page
    assert set(images(page)) == {"PSI per feature"}


def test_report_escapes_what_it_did_not_write():
    hostile = a.DriftReport.from_dict({**drift_report().to_dict(), "run_id": "<script>alert(1)</script>"})
    page = monitoring.render_html(drift=hostile)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_write_report_stores_the_page_and_its_typed_twin(s3, bucket):
    html_uri, json_uri = monitoring.write_report(
        s3, bucket, DS, DAY, drift=drift_report(), performance=performance(), night=night(), history=history()
    )
    assert (html_uri, json_uri) == (a.report_uri(bucket, DS, DAY), a.report_json_uri(bucket, DS, DAY))
    page = s3.get_object(Bucket=bucket, Key=html_uri.split("/", 3)[3])
    assert page["ContentType"].startswith("text/html") and b"data:image/png;base64," in page["Body"].read()
    twin = a.read_artifact(s3, json_uri, MonitoringReport)
    assert twin.verdict == "ALERT" and twin.report_uri == html_uri
    assert twin.performance == performance() and twin.night == night() and twin.history == history()
    assert all(f.plot == {} for f in twin.drift.features) and twin.drift.prediction.plot == {}
    assert twin.drift == monitoring.without_plots(drift_report())


@pytest.mark.parametrize("missing", ["drift", "history"])
def test_twin_reader_is_strict(missing):
    twin = MonitoringReport(
        dataset=DS, day=DAY, verdict="OK", report_uri=a.report_uri(B, DS, DAY), drift=drift_report(),
        performance=None, night=None, history=[], rendered_at=TS,
    )  # fmt: skip
    data = twin.to_dict()
    del data[missing]
    with pytest.raises(
        ArtifactSchemaError, match=f"monitoring_report lacks the field\\(s\\) \\[{missing!r}\\]"
    ):
        MonitoringReport.from_dict(data)
