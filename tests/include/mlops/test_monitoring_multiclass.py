"""Monitoring beyond binary credit: a multiclass model's prediction drift and performance, labels in
the batch, and what ``mlops drift`` prints on a dataset it has not seen."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from mlops import artifacts, monitoring, profiling, storage
from mlops.artifacts import DriftReport, FeatureDrift
from mlops.config import DatasetConfig, MonitoringSpec
from mlops.monitoring.drift_stats import missing_rate_test

DAY = date(2026, 1, 5)


@pytest.fixture(scope="module")
def wine_cfg():
    from mlops.config import load_dataset_config

    return load_dataset_config("wine")


def _wine(cfg, day: date, n: int):
    from mlops.dev.datagen import generate_day

    return generate_day(cfg, day, n)


# ---------------------------------------------------------------- prediction drift over the classes
def test_prediction_drift_of_a_multiclass_model_is_over_the_classes(wine_cfg):
    ref, labels = _wine(wine_cfg, DAY, 600)
    reference_classes = labels["cultivar"].to_numpy()
    profile = profiling.build_reference_profile(
        ref, wine_cfg, predictions=reference_classes, prediction_kind="categorical"
    )
    assert profile.prediction.kind == "categorical" and set(profile.prediction.counts) == {"0", "1", "2"}
    again = artifacts.ReferenceProfile.from_json_bytes(profile.to_json_bytes())
    assert again.prediction == profile.prediction  # read back as categorical, not as scores

    cur, cur_labels = _wine(wine_cfg, date(2026, 1, 6), 600)
    same = monitoring.compute_drift(profile, cur, wine_cfg.monitoring, predictions=cur_labels["cultivar"])
    assert same.prediction.kind == "categorical" and same.prediction.method == "chi2"
    assert same.prediction.status == "ok"
    shifted = np.where(cur_labels["cultivar"].to_numpy() == 2, 0, cur_labels["cultivar"].to_numpy())
    drifted = monitoring.compute_drift(profile, cur, wine_cfg.monitoring, predictions=shifted)
    assert drifted.prediction.drift_detected and drifted.prediction.status == "alert"
    assert drifted.prediction.cur_summary["top"].get("2") is None  # class 2 is never predicted now
    rules = monitoring.evaluate_rules(wine_cfg.monitoring.alert_rules, day="2026-01-06", drift=drifted)
    assert {r.name: r.fired for r in rules}["prediction_shift"]


def test_prediction_column_follows_the_profile(wine_cfg, credit_cfg):
    from mlops.monitoring.nightly import prediction_column

    preds = pd.DataFrame({"prediction": [0, 2], "probability": [0.3, 0.9], "proba_0": [0.7, 0.1]})
    classes = profiling.build_reference_profile(
        _wine(wine_cfg, DAY, 50)[0], wine_cfg, predictions=[0, 1, 2], prediction_kind="categorical"
    )
    assert prediction_column(preds, wine_cfg, classes).tolist() == [0, 2]
    ref, _ = _credit(credit_cfg)
    scores = profiling.build_reference_profile(ref, credit_cfg, predictions=np.linspace(0, 1, len(ref)))
    assert prediction_column(preds, credit_cfg, scores).tolist() == [0.3, 0.9]
    with pytest.raises(Exception, match="'prediction_kind' parameter of build_reference_profile"):
        profiling.build_reference_profile(ref, credit_cfg, predictions=[0.1], prediction_kind="classes")


def _credit(cfg):
    from mlops.dev.datagen import generate_day

    return generate_day(cfg, DAY, 400)


# ---------------------------------------------------------------- performance
def _multiclass_predictions(labels: pd.DataFrame, id_column: str, target: str, flip: int = 0) -> pd.DataFrame:
    y = labels[target].to_numpy()
    pred = np.roll(y, flip) if flip else y
    proba = np.full((len(y), 3), 0.1)
    proba[np.arange(len(y)), pred] = 0.8
    out = pd.DataFrame({id_column: labels[id_column], "prediction": pred})
    for i in range(3):
        out[f"proba_{i}"] = proba[:, i]
    out["model_version"] = "v0001"
    return out


def test_multiclass_performance_is_realised_or_marked_not_estimated(wine_cfg):
    _, labels = _wine(wine_cfg, DAY, 300)
    preds = _multiclass_predictions(labels, "wine_id", "cultivar")
    report = monitoring.compute_performance(
        wine_cfg,
        "2026-01-07",
        {"2026-01-05": (preds, labels), "2026-01-06": (preds, None)},
        baseline={"accuracy": 0.97, "f1_macro": 0.96},
    )
    realised, unlabelled = report.days
    assert realised.source == "realised" and realised.metrics["accuracy"] == 1.0
    assert realised.metrics["log_loss"] == pytest.approx(-np.log(0.8))
    assert unlabelled.source == "unavailable" and unlabelled.metrics == monitoring.performance.NOT_ESTIMATED
    assert report.realised["f1_macro"] == 1.0 and report.realised["days"] == 1
    assert report.estimated["estimate"] == "not estimated"
    lines = monitoring.performance_summary_lines(report)
    assert any("2026-01-06: unavailable n=300 (not estimated: CBPE is binary only)" in ln for ln in lines)
    assert any(ln.startswith("estimated: NOT ESTIMATED (CBPE applies to binary classifiers") for ln in lines)
    assert monitoring.metric_change(report, "accuracy") == pytest.approx((0.97, 1.0, -0.03))
    assert monitoring.metric_change(report, "accuracy", "estimated") == (0.97, None, None)
    history = monitoring.history_record(
        _night(wine_cfg), monitoring.compute_drift(_profile(wine_cfg), _wine(wine_cfg, DAY, 50)[0]), report
    )
    assert history.estimated == {} and history.realised["accuracy"] == 1.0
    from mlops.monitoring.report import render_html

    page = render_html(drift=_drift(wine_cfg), performance=report)
    assert "Estimated: not estimated" in page and "unavailable (not estimated)" in page
    assert "<th>f1_macro</th>" in page and "<th>rmse</th>" not in page


def _profile(cfg):
    return profiling.build_reference_profile(_wine(cfg, DAY, 200)[0], cfg)


def _drift(cfg):
    return monitoring.compute_drift(_profile(cfg), _wine(cfg, date(2026, 1, 6), 200)[0], day="2026-01-07")


def _night(cfg):
    from mlops.artifacts.nightly import NightVerdict

    return NightVerdict(
        dataset=cfg.name, day="2026-01-07", verdict="OK", drift_verdict="OK", model_version="v0001",
        run_id=None, rules=[], report_uri="s3://b/r.html", report_json_uri="s3://b/r.json",
        history_uri="s3://b/h.json", night_uri="s3://b/n.json", alert_uri=None,
        evaluated_at=artifacts.utc_now_iso(),
    )  # fmt: skip


def test_labels_carried_in_the_batch_feed_realised_performance(s3, bucket, credit_cfg):
    raw = credit_cfg.to_dict() | {"labels": {"in_features": True}}
    cfg = DatasetConfig.model_validate(raw)
    features, labels = _credit(cfg)
    uri = artifacts.batch_uri(bucket, cfg.name, DAY)
    storage.write_parquet(s3, uri, features)
    assert monitoring.inputs.day_labels(s3, bucket, cfg, DAY) is None  # no target column yet
    with_target = features.merge(labels, on=cfg.id_column)
    with_target.loc[:99, cfg.target] = None
    storage.write_parquet(s3, uri, with_target)
    found = monitoring.inputs.day_labels(s3, bucket, cfg, DAY)
    assert list(found.columns) == [cfg.id_column, cfg.target] and len(found) == len(features) - 100
    assert monitoring.inputs.day_labels(s3, bucket, cfg, date(2026, 1, 9)) is None


# ---------------------------------------------------------------- mlops drift on an unseen dataset
def _table_pair(tmp_path, *, drift: bool):
    n = 800

    def table(shift: float, seed: int) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        return pd.DataFrame(
            {
                "id": np.arange(n) + seed * n,  # unique on every row: an id
                "code": [f"R{seed}-{i}" for i in range(n)],  # unique text: an id too
                "size": r.normal(10 + shift, 2, n),  # unique floats: a feature
                "colour": r.choice(["red", "blue"], n),
                "flag": r.random(n) < 0.5,
            }
        )

    ref, cur = table(0.0, 1), table(3.0 if drift else 0.0, 2)
    paths = tmp_path / "ref.parquet", tmp_path / f"cur-{drift}.parquet"
    ref.to_parquet(paths[0])
    cur.to_parquet(paths[1])
    return paths


def test_mlops_drift_leaves_out_ids_and_the_first_and_last_lines_agree(tmp_path, capsys):
    from mlops.cli import main

    ref, cur = _table_pair(tmp_path, drift=False)
    assert main(["drift", "--reference", str(ref), "--current", str(cur)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("dataset-drift rule: 0/3 features drifted, share 0.00 < 0.3 -> not met")
    assert out[1].startswith("left out: ['code', 'id'] (unique on every row: an id")
    assert out[-1].startswith("VERDICT: OK drifted=[] (no feature at warn or alert level")
    assert "size: KS D=" in "\n".join(out)

    ref, cur = _table_pair(tmp_path, drift=True)
    assert main(["drift", "--reference", str(ref), "--current", str(cur), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["excluded_columns"] == {
        "code": monitoring.adhoc.ID_LIKE,
        "id": monitoring.adhoc.ID_LIKE,
    }
    assert report["drifted_features"] == ["size"] and report["verdict"] == "ALERT"
    assert report["dataset_drift"] and report["drift_share"] == pytest.approx(1 / 3)  # 1 of 3 >= 0.3


def test_verdict_line_names_its_reasons_when_the_share_rule_is_not_met():
    th = monitoring.thresholds_for(MonitoringSpec(), "x")
    alert = _feature("x", th, status="alert", drift=True)
    quiet = [_feature(f"q{i}", th) for i in range(4)]
    report = DriftReport(
        dataset="adhoc", day=None, model_version=None, run_id=None, verdict="ALERT", dataset_drift=False,
        drift_share=0.2, drift_share_limit=0.3, weighted=False, n_ref=100, n_cur=100, p_value_adjust="holm",
        features=[alert, *quiet], prediction=None,
    )  # fmt: skip
    lines = monitoring.summary_lines(report)
    assert "-> not met (the verdict also counts single features at alert/warn level)" in lines[0]
    assert lines[-1] == "VERDICT: ALERT drifted=['x'] (alert level: ['x'])"


def _feature(name: str, th, *, status: str = "ok", drift: bool = False) -> FeatureDrift:
    return FeatureDrift(
        feature=name, kind="numeric", method="ks", statistic=0.3, p_value=0.001, score=0.004, threshold=0.05,
        test_drift=drift, psi=0.4 if drift else 0.01, psi_noise=0.0, missing_rate_ref=0.0,
        missing_rate_cur=0.0, missing_drift=False, drift_detected=drift, status=status, n_ref=100, n_cur=100,
        thresholds=th,
    )  # fmt: skip


def test_each_statistic_is_labelled_for_what_it_is():
    th = monitoring.thresholds_for(MonitoringSpec(), "x")
    small = _feature("x", th, status="alert", drift=True)
    assert "KS D=0.3 p=0.001, Holm-adjusted p=0.004 < 0.05 -> DRIFT" in monitoring.describe(small)
    assert "KS D=0.3 p=0.004 < 0.05" in monitoring.describe(small, "none")
    large = FeatureDrift(
        **{**vars(small), "method": "wasserstein", "statistic": 4.0, "p_value": None, "score": 2.0,
           "threshold": 0.1, "ref_summary": {"std": 2.0}},
    )  # fmt: skip
    assert "Wasserstein/ref-std=2 (W=4, ref std 2) >= 0.1" in monitoring.describe(large)
    jumped = FeatureDrift(
        **{**vars(small), "missing_rate_ref": 0.01, "missing_rate_cur": 0.3, "missing_drift": True,
           "missing_z": 12.5, "missing_p_value": 1e-30},
    )  # fmt: skip
    assert "missing 1.0% -> 30.0% (z=+12.50, p=1e-30; change >= 0.05 and p < 0.05: DRIFT)" in (
        monitoring.describe(jumped)
    )


def test_missing_rate_rule_records_its_z_test(credit_cfg):
    z, p = missing_rate_test(10, 1000, 100, 1000)
    pooled = 110 / 2000
    assert z == pytest.approx(0.09 / np.sqrt(pooled * (1 - pooled) * 2 / 1000)) and p < 1e-15
    assert missing_rate_test(0, 1000, 0, 1000) == (0.0, 1.0)
    ref, _ = _credit(credit_cfg)
    profile = profiling.build_reference_profile(ref, credit_cfg)
    cur = ref.copy()
    cur.loc[: len(cur) // 2, "education"] = None
    report = monitoring.compute_drift(profile, cur, credit_cfg.monitoring)
    education = report.feature("education")
    assert education.missing_drift and education.missing_z > 5 and education.missing_p_value < 1e-6
    old = education.to_dict()
    del old["missing_z"], old["missing_p_value"]
    assert FeatureDrift.from_dict(old).missing_z is None  # drift.json written before the field
    older = report.to_dict()
    del older["excluded_columns"]
    assert DriftReport.from_dict(older).excluded_columns == {}


def test_multiclass_nights_get_per_group_metrics_and_multiclass_summary_lines():
    """Realised per-group accuracy and macro recall of a multiclass model's labelled days (the binary
    measures do not apply), and summary lines that show the multiclass metrics."""
    from sklearn import metrics as skm

    from tests.include.mlops.test_fairness import _wine_with

    cfg = _wine_with(fairness={"sensitive_features": ["site"], "min_group_rows": 50})
    _, labels = _wine(cfg, DAY, 400)
    preds = _multiclass_predictions(labels, "wine_id", "cultivar")
    site = np.where(np.arange(400) % 2 == 0, "east", "west")
    wrong = (site == "west") & (np.arange(400) % 4 == 1)  # half of west's rows get the next class
    preds.loc[wrong, "prediction"] = (preds.loc[wrong, "prediction"] + 1) % 3
    sensitive = {"2026-01-05": pd.DataFrame({"wine_id": labels["wine_id"], "site": site})}
    report = monitoring.compute_performance(
        cfg, "2026-01-05", {"2026-01-05": (preds, labels)}, baseline={"f1_macro": 0.99}, sensitive=sensitive
    )
    result = report.fairness["site"]
    y, pred = labels["cultivar"].to_numpy(), preds["prediction"].to_numpy()
    for group in ("east", "west"):
        mask = site == group
        assert result["groups"][group] == pytest.approx(
            {
                "n": 200,
                "accuracy": skm.accuracy_score(y[mask], pred[mask]),
                "recall_macro": skm.recall_score(y[mask], pred[mask], average="macro"),
            }
        )
    assert result["groups"]["east"]["accuracy"] == 1.0 and result["groups"]["west"]["accuracy"] == 0.5
    assert set(result["disparities"]) == {"accuracy_difference", "recall_macro_difference"}
    assert result["disparities"]["accuracy_difference"] == pytest.approx(0.5)
    lines = monitoring.performance_summary_lines(report)
    day = next(ln for ln in lines if ln.startswith("2026-01-05: realised n=400"))
    assert "accuracy=0.75" in day and "f1_macro=" in day and "roc_auc_ovr=" in day and "log_loss=" in day
    assert "f1_macro (realised): " in "\n".join(lines)
    assert any(ln.startswith("fairness [site] realised, 2 groups: accuracy_difference=0.5") for ln in lines)
