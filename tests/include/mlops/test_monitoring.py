"""Monitoring core: drift, prediction drift, performance estimation, rules, nightly I/O through typed artifacts."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from mlops import artifacts, metrics, monitoring, profiling, storage
from mlops.artifacts.nightly import (
    AlertEvent,
    HistoryRecord,
    MonitoringReport,
    NightVerdict,
    PerformanceReport,
    RetrainRequest,
)
from mlops.config import AlertRule, MonitoringSpec
from mlops.dev.datagen import Scenario, generate_day
from mlops.errors import ArtifactSchemaError, ConfigError, InputReadError, IntegrityError
from tests.conftest import write_candidate

DAY_A, DAY_B = date(2026, 1, 5), date(2026, 1, 6)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def credit_pools(credit_cfg):
    """Two independent clean days of 100k rows (reference and current pools)."""
    ref, _ = generate_day(credit_cfg, DAY_A, 100_000)
    cur, _ = generate_day(credit_cfg, DAY_B, 100_000)
    return ref, cur


def _fit_model(cfg, frame: pd.DataFrame, labels: pd.DataFrame):
    """A small calibrated classifier (impute + scale + one-hot + logistic regression)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), list(cfg.features.numeric)),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                list(cfg.features.categorical),
            ),
        ]
    )
    model = make_pipeline(pre, LogisticRegression(max_iter=500))
    x = frame[list(cfg.features.all)].astype({c: object for c in cfg.features.categorical})
    return model.fit(x, labels[cfg.target].to_numpy())


def _proba(cfg, model, frame):
    x = frame[list(cfg.features.all)].astype({c: object for c in cfg.features.categorical})
    return model.predict_proba(x)[:, 1]


@pytest.fixture(scope="module")
def credit_model(credit_cfg):
    ref, labels = generate_day(credit_cfg, date(2026, 1, 2), 8000)
    return _fit_model(credit_cfg, ref, labels), ref


# ------------------------------------------------------------------ drift
def test_compute_drift_rejects_something_that_is_not_a_profile(credit_day):
    with pytest.raises(ConfigError, match="'profile' parameter of compute_drift must be a mlops.artifacts"):
        monitoring.compute_drift({"features": {}}, credit_day[0])


# ------------------------------------------------------------------ statistics
def test_psi_and_holm_basics():
    assert monitoring.psi(np.array([10, 10]), np.array([10, 10])) == 0.0
    assert monitoring.psi(np.array([50, 50]), np.array([90, 10])) == pytest.approx(
        (0.9 - 0.5) * np.log(0.9 / 0.5) + (0.1 - 0.5) * np.log(0.1 / 0.5)
    )
    assert np.isfinite(monitoring.psi(np.array([100, 0]), np.array([50, 50])))  # epsilon for empty bins
    assert monitoring.holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])


@pytest.mark.parametrize("n", [1_000, 100_000, 1_000_000])
def test_no_drift_pair_stays_ok_at_any_size(credit_cfg, credit_pools, n):
    """No alarm inflation: two draws of the same process stay OK from 1k to 1M rows.

    1M rows are bootstrapped from the two independent 100k pools, so the pair differs by
    100k-level sampling noise: a p-value test at n=1M would flag it; effect sizes do not.
    """
    ref_pool, cur_pool = credit_pools
    if n <= len(ref_pool):
        ref, cur = ref_pool.iloc[:n], cur_pool.iloc[:n]
    else:
        rng = np.random.default_rng(7)
        columns = list(credit_cfg.features.all)
        ref = pd.DataFrame({c: ref_pool[c].to_numpy()[rng.integers(0, len(ref_pool), n)] for c in columns})
        cur = pd.DataFrame({c: cur_pool[c].to_numpy()[rng.integers(0, len(cur_pool), n)] for c in columns})
    started = time.perf_counter()
    report = monitoring.compute_drift(
        profiling.build_reference_profile(ref, credit_cfg), cur, credit_cfg.monitoring
    )
    elapsed = time.perf_counter() - started
    assert report.verdict == "OK", monitoring.summary_lines(report)
    assert report.drifted_features == [] and not report.dataset_drift
    assert all(f.status == "ok" for f in report.features)
    large = n >= credit_cfg.monitoring.large_sample
    assert {f.method for f in report.features} == (
        {"wasserstein", "jensenshannon"} if large else {"ks", "chi2"}
    )
    if large:
        assert max(f.score for f in report.features) < credit_cfg.monitoring.distance_alert / 2
    # A guard against accidental quadratic work, not a benchmark (see benchmarks/bench_drift.py).
    assert elapsed < 30, f"profile + drift on {n} rows took {elapsed:.1f}s"


def _inject(frame: pd.DataFrame) -> pd.DataFrame:
    """Drift on exactly three features: age (+6 years), loan_amount (x1.35), region (north -> south)."""
    out = frame.copy()
    out["age"] = out["age"] + 6
    out["loan_amount"] = out["loan_amount"] * 1.35
    region = np.array(out["region"], dtype=object)
    rng = np.random.default_rng(3)
    region[(region == "north") & (rng.random(len(region)) < 0.7)] = "south"
    out["region"] = region
    return out


@pytest.mark.parametrize("n", [2_000, 50_000])
def test_injected_drift_is_detected_on_exactly_those_features(credit_cfg, credit_pools, n):
    ref_pool, cur_pool = credit_pools
    profile = profiling.build_reference_profile(ref_pool.iloc[:n], credit_cfg)
    report = monitoring.compute_drift(profile, _inject(cur_pool.iloc[:n]), credit_cfg.monitoring)
    assert sorted(report.drifted_features) == ["age", "loan_amount", "region"], monitoring.summary_lines(
        report
    )
    assert report.verdict == "ALERT"  # the shifts are large: PSI past the alert level
    assert [f.feature for f in report.sorted_features()[:3]] == sorted(
        ["age", "loan_amount", "region"], key=lambda name: -report.feature(name).psi
    )
    assert not report.dataset_drift  # 3/19 < 0.3


def test_generated_covariate_drift_is_found_on_the_drifted_feature(credit_cfg):
    """datagen's drift switch on debt_to_income (no other feature depends on it)."""
    ref, _ = generate_day(credit_cfg, DAY_A, 3000)
    scenario = Scenario(drift_start=DAY_B, drift_features=("debt_to_income",))
    cur, _ = generate_day(credit_cfg, DAY_B, 3000, scenario=scenario)
    report = monitoring.compute_drift(profiling.build_reference_profile(ref, credit_cfg), cur)
    assert report.drifted_features == ["debt_to_income"]
    assert report.feature("debt_to_income").psi_adjusted > 0.25


def test_unseen_categories_and_missing_rate_jumps_are_reported(credit_cfg, credit_pools):
    ref_pool, cur_pool = credit_pools
    profile = profiling.build_reference_profile(ref_pool.iloc[:3000], credit_cfg)
    cur = cur_pool.iloc[:3000].copy()
    purpose = np.array(cur["loan_purpose"], dtype=object)
    purpose[:300] = "crypto"
    cur["loan_purpose"] = purpose
    cur.loc[cur.index[:1200], "credit_score"] = np.nan
    report = monitoring.compute_drift(profile, cur)
    purpose_drift = report.feature("loan_purpose")
    assert purpose_drift.unseen_count == 300 and purpose_drift.unseen_categories == ["crypto"]
    assert purpose_drift.drift_detected
    score = report.feature("credit_score")
    assert score.missing_drift and score.missing_rate_cur == pytest.approx(0.4) and score.status == "alert"


def test_importance_weighting_and_per_feature_thresholds(credit_cfg, credit_pools):
    ref_pool, cur_pool = credit_pools
    importances = {"age": 5.0, **{f: 0.1 for f in credit_cfg.features.all if f != "age"}}
    profile = profiling.build_reference_profile(ref_pool.iloc[:2000], credit_cfg, importances=importances)
    cur = cur_pool.iloc[:2000].copy()
    cur["age"] = cur["age"] + 6
    plain = monitoring.compute_drift(profile, cur, MonitoringSpec())
    weighted = monitoring.compute_drift(profile, cur, MonitoringSpec(weight_by_importance=True))
    assert plain.drift_share == pytest.approx(1 / 19) and not plain.dataset_drift
    assert weighted.drift_share > 0.7 and weighted.dataset_drift and weighted.verdict == "ALERT"
    lenient = MonitoringSpec(per_feature={"age": {"psi_warn": 5.0, "psi_alert": 9.0, "p_value": 1e-300}})
    assert monitoring.compute_drift(profile, cur, lenient).feature("age").status == "ok"
    with pytest.raises(ValueError, match="unknown keys"):
        MonitoringSpec(per_feature={"age": {"psi_limit": 1}})


# ------------------------------------------------------------------ predictions and performance
def test_label_shift_shows_in_prediction_drift(credit_cfg, credit_model):
    model, ref = credit_model
    profile = profiling.build_reference_profile(ref, credit_cfg, predictions=_proba(credit_cfg, model, ref))
    quiet, _ = generate_day(credit_cfg, DAY_B, 3000)
    shifted, _ = generate_day(
        credit_cfg, DAY_B, 3000, scenario=Scenario(label_shift_start=DAY_B, label_shift_rate=0.35)
    )
    calm = monitoring.compute_drift(profile, quiet, predictions=_proba(credit_cfg, model, quiet))
    drift = monitoring.compute_drift(profile, shifted, predictions=_proba(credit_cfg, model, shifted))
    assert not calm.prediction_drift and calm.prediction.status == "ok"
    assert drift.prediction_drift and drift.prediction.status != "ok", monitoring.describe(drift.prediction)
    assert drift.prediction.p_value < 1e-6 and drift.prediction.psi > 5 * calm.prediction.psi
    assert drift.prediction.cur_summary["mean"] > drift.prediction.ref_summary["mean"] + 0.03


def test_cbpe_estimate_is_within_tolerance_of_realised_performance(credit_cfg, credit_model):
    """Tolerance: |estimated - realised| <= 0.03 for ROC AUC and accuracy, on clean and covariate-drifted days."""
    model, _ = credit_model
    for scenario in (None, Scenario(drift_start=DAY_B)):
        cur, labels = generate_day(credit_cfg, DAY_B, 6000, seed=11, scenario=scenario)
        proba = _proba(credit_cfg, model, cur)
        y = labels[credit_cfg.target]
        realised = metrics.classification_metrics(y, None, proba, positive_class=1)
        estimated = metrics.estimate_classification_performance(proba)
        for metric in ("roc_auc", "accuracy"):
            assert abs(estimated[metric] - realised[metric]) <= 0.03, (metric, estimated, realised)
        assert abs(estimated["positive_rate"] - metrics.positive_rate(y, positive_class=1)) <= 0.03


def test_compute_performance_realised_and_estimated_days(credit_cfg, credit_model):
    model, _ = credit_model
    scored = {}
    for i, labelled in enumerate((True, True, False)):
        day = (DAY_B + timedelta(days=i)).isoformat()
        cur, labels = generate_day(credit_cfg, DAY_B + timedelta(days=i), 1500)
        preds = pd.DataFrame(
            {credit_cfg.id_column: cur[credit_cfg.id_column], "probability": _proba(credit_cfg, model, cur)}
        )
        preds["prediction"] = (preds["probability"] >= 0.5).astype(int)
        preds["model_version"] = "v0001"
        scored[day] = (preds, labels if labelled else None)
    report = monitoring.compute_performance(credit_cfg, "2026-01-08", scored, baseline={"roc_auc": 0.8})
    assert [d.source for d in report.days] == ["realised", "realised", "estimated"]
    assert report.realised["n"] == 3000 and report.realised["days"] == 2
    assert report.estimated["n"] == 1500
    base, cur, drop = monitoring.metric_change(report, "roc_auc")
    assert base == 0.8 and drop == pytest.approx(0.8 - cur)
    assert "realised (2 days, n=3000)" in report.summary
    assert PerformanceReport.from_json_bytes(report.to_json_bytes()) == report
    assert json.loads(report.to_json_bytes())["summary"] == report.summary


def _scored_days(cfg, model, *, suppress: str | None = None):
    """Two labelled days and one unlabelled; ``suppress`` predicts no default for that region (a biased model)."""
    scored, sensitive = {}, {}
    for i, labelled in enumerate((True, True, False)):
        day = (DAY_B + timedelta(days=i)).isoformat()
        cur, labels = generate_day(cfg, DAY_B + timedelta(days=i), 1500)
        proba = _proba(cfg, model, cur)
        if suppress:
            proba = np.where(cur["region"] == suppress, proba * 0.1, proba)
        preds = pd.DataFrame({cfg.id_column: cur[cfg.id_column], "probability": proba})
        preds["prediction"] = (preds["probability"] >= 0.5).astype(int)
        scored[day] = (preds, labels if labelled else None)
        sensitive[day] = cur[[cfg.id_column, "region"]]
    return scored, sensitive


def test_per_group_realised_metrics_and_the_disparity_alert(credit_cfg, credit_model):
    model, _ = credit_model
    rule = next(r for r in credit_cfg.monitoring.alert_rules if r.kind == "fairness_disparity")
    floor = AlertRule(
        name="recall_floor", kind="fairness_disparity", metric="recall_group_min", threshold=0.1
    )
    for suppress, fires in ((None, False), ("south", True)):
        scored, sensitive = _scored_days(credit_cfg, model, suppress=suppress)
        report = monitoring.compute_performance(credit_cfg, "2026-01-08", scored, sensitive=sensitive)
        region = report.fairness["region"]
        assert sum(g["n"] for g in region["groups"].values()) == 3000  # the labelled days only
        assert set(region["groups"]) == {"north", "south", "east", "west", "central"}
        assert set(region["disparities"]) >= {"equalized_odds_difference", "recall_group_min"}
        outcome, low = monitoring.evaluate_rules(
            [rule, floor], day="2026-01-08", drift=None, performance=report
        )
        assert (outcome.fired, low.fired) == (fires, fires), (outcome.detail, low.detail)
        assert outcome.value == pytest.approx(region["disparities"]["equalized_odds_difference"])
        assert PerformanceReport.from_json_bytes(report.to_json_bytes()) == report
    assert region["groups"]["south"]["recall"] == 0.0 and outcome.features == ["region"]
    assert outcome.detail.startswith("equalized_odds_difference[region] realised ")
    assert " > 0.35 (3000 labelled rows, 2 days)" in outcome.detail
    assert low.detail.startswith("recall_group_min[region] realised 0.0000 < 0.1")
    lines = monitoring.performance_summary_lines(report)
    assert any(line.startswith("fairness [region] realised, 5 groups: ") for line in lines)
    # without the sensitive columns there is nothing per group, and the rule says why
    plain = monitoring.compute_performance(credit_cfg, "2026-01-08", scored)
    assert plain.fairness == {}
    quiet = monitoring.evaluate_rules([rule], day="2026-01-08", drift=None, performance=plain)[0]
    assert not quiet.fired and "no realised per-group metrics" in quiet.detail
    with pytest.raises(ValueError, match="metric 'parity' is not a disparity"):
        AlertRule(name="x", kind="fairness_disparity", metric="parity", threshold=0.1)
    with pytest.raises(ValueError, match=r"needs \['threshold'\]"):
        AlertRule(name="x", kind="fairness_disparity", metric="equalized_odds_difference")


def test_sensitive_columns_are_read_from_the_batch(s3, bucket, credit_cfg, diabetes_cfg, credit_day):
    from mlops.monitoring.fairness import read_sensitive, read_sensitive_days

    features, _ = credit_day
    storage.write_parquet(s3, artifacts.batch_uri(bucket, "credit", "2026-01-10"), features)
    frame = read_sensitive(s3, bucket, credit_cfg, "2026-01-10")
    assert list(frame.columns) == ["application_id", "region"] and len(frame) == len(features)
    days = read_sensitive_days(s3, bucket, credit_cfg, ["2026-01-10", "2026-01-11"])
    assert days["2026-01-11"] is None and days["2026-01-10"].equals(frame)  # no batch that day
    assert read_sensitive_days(s3, bucket, diabetes_cfg, ["2026-01-10"]) == {}  # no fairness: section


def test_reference_comes_from_the_published_version(s3, bucket, credit_cfg, credit_model):
    """Profile, holdout baseline (VersionManifest.holdout_metrics) and training window of a version."""
    from mlops.registry import ModelRegistry

    model, ref = credit_model
    kinds = dict.fromkeys(credit_cfg.features.numeric, "numeric") | dict.fromkeys(
        credit_cfg.features.categorical, "categorical"
    )
    profile = profiling.build_reference_profile(ref, credit_cfg, predictions=_proba(credit_cfg, model, ref))
    registry = ModelRegistry(s3, bucket, "credit")
    with_profile = write_candidate(
        s3, bucket, "with-profile", model, features=kinds, holdout_metrics={"roc_auc": 0.81, "log_loss": 0.4},
        reference_profile=profile,
    )  # fmt: skip
    version = registry.publish(candidate_uri=with_profile, run={"run_id": "r1"}).version
    registry.promote(version, expected_etag=None, reason="test", actor="pytest")
    reference = monitoring.load_reference(s3, bucket, "credit")
    assert reference.version == version and reference.profile == profile
    assert reference.baseline_metrics == {"roc_auc": 0.81, "log_loss": 0.4}
    assert reference.window["start"] == "2026-01-01" and reference.profile_uri.endswith(
        "/reference_profile.json"
    )

    bare = write_candidate(s3, bucket, "no-profile", model, features=kinds)
    second = registry.publish(candidate_uri=bare, run={"run_id": "r2"}).version
    with pytest.raises(ConfigError, match=f"credit {second} has no reference_profile.json"):
        monitoring.load_reference(s3, bucket, "credit", second)


# ------------------------------------------------------------------ rules
def _drift(credit_cfg, credit_pools, drifted: bool, importances=None):
    ref_pool, cur_pool = credit_pools
    profile = profiling.build_reference_profile(ref_pool.iloc[:2000], credit_cfg, importances=importances)
    cur = cur_pool.iloc[:2000]
    if drifted:
        cur = cur.copy()
        for col in ("age", "loan_amount", "credit_score", "debt_to_income", "interest_rate", "annual_income"):
            cur[col] = cur[col] * 1.4
    return monitoring.compute_drift(profile, cur, credit_cfg.monitoring)


def _perf(realised=None, estimated=None, baseline=None) -> PerformanceReport:
    return PerformanceReport(
        dataset="credit", day="2026-01-10", task="classification", model_version="v0001", run_id=None,
        window_days=3, baseline=baseline or {"roc_auc": 0.80}, days=[], realised=realised or {},
        estimated=estimated or {},
    )  # fmt: skip


def _history(*drift_days: str) -> list[HistoryRecord]:
    return [HistoryRecord("credit", d, "ALERT", "v0001", [], False, True) for d in drift_days]


def test_alert_rules_fire_only_on_their_condition(credit_cfg, credit_pools):
    rules = [
        AlertRule(name="psi_top", kind="psi_top_features", top_k=2, threshold=0.25),
        AlertRule(name="share", kind="dataset_drift", retrain=True),
        AlertRule(name="three_nights", kind="consecutive_drift", nights=3),
        AlertRule(name="auc", kind="metric_drop", metric="roc_auc", max_drop=0.05),
    ]
    imp = {"region": 9.0, "education": 8.0, "age": 0.1}
    quiet = _drift(credit_cfg, credit_pools, False, imp)
    loud = _drift(credit_cfg, credit_pools, True, imp)
    perf_ok = _perf(realised={"roc_auc": 0.78, "n": 10})
    perf_bad = _perf(realised={"roc_auc": 0.70, "n": 10})
    history = _history("2026-01-08", "2026-01-09")

    calm = monitoring.evaluate_rules(
        rules, day="2026-01-10", drift=quiet, performance=perf_ok, history=history
    )
    assert [r.fired for r in calm] == [False, False, False, False]
    assert monitoring.night_verdict(quiet, calm) == "OK"

    fired = monitoring.evaluate_rules(
        rules, day="2026-01-10", drift=loud, performance=perf_bad, history=history
    )
    by_name = {r.name: r for r in fired}
    assert not by_name["psi_top"].fired  # the drifted features are not among the top-2 by importance
    assert "top-2 by importance" in by_name["psi_top"].detail
    assert by_name["share"].fired and by_name["share"].retrain
    assert by_name["three_nights"].fired and by_name["three_nights"].value == 3
    assert by_name["auc"].fired and by_name["auc"].value == pytest.approx(0.10)
    assert "drop +0.1000 > max 0.05" in by_name["auc"].detail
    assert monitoring.night_verdict(loud, fired) == "ALERT"

    gap = _history("2026-01-07", "2026-01-09")
    broken = monitoring.evaluate_rules(rules[2:3], day="2026-01-10", drift=loud, history=gap)
    assert not broken[0].fired and broken[0].value == 2

    no_importance = _drift(credit_cfg, credit_pools, True)
    any_feature = monitoring.evaluate_rules(rules[:1], day="2026-01-10", drift=no_importance)[0]
    assert any_feature.fired and "any feature" in any_feature.detail


def test_metric_drop_rule_without_labels_uses_estimates_only_when_asked():
    perf = _perf(estimated={"roc_auc": 0.6, "n": 100})
    realised_only = AlertRule(name="auc", kind="metric_drop", metric="roc_auc", max_drop=0.05)
    any_source = AlertRule(name="auc", kind="metric_drop", metric="roc_auc", max_drop=0.05, source="any")
    quiet = monitoring.evaluate_rules([realised_only], day="2026-01-10", drift=None, performance=perf)[0]
    assert not quiet.fired and quiet.detail == "roc_auc: no realised data"
    assert monitoring.evaluate_rules([any_source], day="2026-01-10", drift=None, performance=perf)[0].fired
    no_baseline = monitoring.evaluate_rules(
        [any_source], day="d", drift=None, performance=_perf(baseline={"f1": 1})
    )
    assert no_baseline[0].detail == "roc_auc: no holdout metric in the model card"
    with pytest.raises(ValueError, match="needs \\['metric', 'max_drop'\\]"):
        AlertRule(name="x", kind="metric_drop")


# ------------------------------------------------------------------ nightly I/O (moto)
def publish_predictions(s3, bucket, cfg, day, preds: pd.DataFrame) -> artifacts.SuccessMarker:
    """One shard of predictions and an empty rejects file, then ``_SUCCESS`` (as scoring publishes them)."""
    prefix = artifacts.predictions_prefix(bucket, cfg.name, day)
    n = len(preds)

    def put(path: str, frame: pd.DataFrame) -> artifacts.PartEntry:
        data = storage.frame_to_parquet_bytes(frame)
        written = storage.put_bytes(s3, prefix + path, data)
        return artifacts.PartEntry(
            path, written.uri, len(frame), len(data), storage.sha256_bytes(data), written.version_id, 0, 0, n
        )

    marker = artifacts.SuccessMarker.new(
        dataset=cfg.name, partition_uri=prefix, run_id="test", attempt="t1", model_ref="production",
        model_version="v0001", model_sha256="0" * 64, input_uri=artifacts.batch_uri(bucket, cfg.name, day),
        input_version_id=None, rows_in=n, rows_scored=n, rows_rejected=0, reject_fraction=0.0,
        max_reject_fraction=0.05, num_shards=1, parts=[put(artifacts.part_path("t1", 0, 1), preds)],
        rejects=[put(artifacts.rejects_path("t1", 0, 1), preds.iloc[:0])], reject_reasons={},
    )  # fmt: skip
    artifacts.write_artifact(s3, artifacts.success_uri(prefix), marker)
    return marker


def _seed_night(s3, bucket, cfg, model, *, days, scenario=None, rows=800, profile_days=2):
    """Batches, labels and predictions (parts + _SUCCESS) for ``days``; a profile from earlier days."""
    first = days[0] - timedelta(days=profile_days)
    ref = pd.concat([generate_day(cfg, first + timedelta(days=i), rows)[0] for i in range(profile_days)])
    profile = profiling.build_reference_profile(ref, cfg, predictions=_proba(cfg, model, ref))
    profile_uri = artifacts.reference_profile_uri(f"s3://{bucket}/models/{cfg.name}/test/")
    artifacts.write_artifact(s3, profile_uri, profile)
    for day in days:
        features, labels = generate_day(cfg, day, rows, scenario=scenario)
        storage.write_parquet(s3, artifacts.batch_uri(bucket, cfg.name, day), features)
        storage.write_parquet(s3, artifacts.labels_uri(bucket, cfg.name, day), labels)
        proba = _proba(cfg, model, features)
        preds = pd.DataFrame(
            {
                cfg.id_column: features[cfg.id_column],
                "prediction": (proba >= 0.5).astype(int),
                "probability": proba,
                "model_version": "v0001",
                "run_id": "test",
            }
        )
        publish_predictions(s3, bucket, cfg, day, preds)
    return profile_uri


def test_nightly_drift_then_evaluation_writes_report_history_and_alert(s3, bucket, credit_cfg, credit_model):
    model, _ = credit_model
    days = [date(2026, 2, 1) + timedelta(days=i) for i in range(3)]
    profile_uri = _seed_night(
        s3, bucket, credit_cfg, model, days=days, scenario=Scenario(drift_start=days[0])
    )
    drift = monitoring.monitor_drift(
        s3, bucket, credit_cfg, days[-1], window_days=4, reference_uri=profile_uri
    )
    assert drift.verdict == "ALERT" and drift.dataset_drift and drift.prediction is not None
    assert drift.current_window["days"] == [d.isoformat() for d in days]
    assert "2026-01-31" in drift.current_window["skipped"] and drift.prediction_rows == 3 * 800
    assert artifacts.read_artifact(s3, drift.drift_uri, artifacts.DriftReport) == drift

    performance = monitoring.monitor_performance(s3, bucket, credit_cfg, days[-1], days=3)
    assert [d.source for d in performance.days] == ["realised"] * 3 and performance.baseline == {}
    night = monitoring.evaluate_night(s3, bucket, credit_cfg, days[-1], run_id="r1")
    assert night.verdict == "ALERT" and "dataset_drift" in night.fired and night.retrain
    assert artifacts.read_artifact(s3, night.night_uri, NightVerdict) == night
    block = monitoring.alert_block(night)
    assert "MONITORING ALERT" in block and "dataset_drift" in block and night.report_uri in block
    event = artifacts.read_artifact(s3, artifacts.alert_uri(bucket, "credit", days[-1]), AlertEvent)
    assert event.verdict == "ALERT" and event.run_id == "r1" and "dataset_drift" in event.fired
    page = storage.get_bytes(s3, night.report_uri).decode()
    assert page.count("data:image/png;base64,") >= 3 and "credit_score" in page and ">ALERT<" in page
    twin = artifacts.read_artifact(s3, night.report_json_uri, MonitoringReport)
    assert twin.verdict == "ALERT" and twin.drift.sorted_features()[0].drift_detected
    assert (
        twin.performance == performance
        and twin.night == night
        and twin.history[-1].day == days[-1].isoformat()
    )
    history = artifacts.read_artifact(s3, night.history_uri, HistoryRecord)
    assert history.dataset_drift is True and len(history.days) == 3
    uri, request = monitoring.write_retrain_request(s3, bucket, credit_cfg, days[-1], run_id="r1")
    assert artifacts.read_artifact(s3, uri, RetrainRequest) == request
    assert request.reasons[0].name == "dataset_drift" and request.run_id == "r1"


def test_predictions_are_read_only_through_success_and_verified(s3, bucket, credit_cfg):
    day = "2026-02-10"
    preds = pd.DataFrame({"id": [1, 2, 3], "prediction": [0, 1, 0], "probability": [0.1, 0.9, 0.2]})
    assert monitoring.read_predictions(s3, bucket, "credit", day) is None  # not scored: no _SUCCESS
    prefix = artifacts.predictions_prefix(bucket, "credit", day)
    storage.write_parquet(s3, prefix + "stray.parquet", preds)  # not listed: never read
    marker = publish_predictions(s3, bucket, credit_cfg, day, preds)
    assert monitoring.read_marker(s3, bucket, "credit", day) == marker
    pd.testing.assert_frame_equal(monitoring.read_predictions(s3, bucket, "credit", day), preds)
    storage.write_parquet(s3, marker.part_uris[0], preds.iloc[:2])  # changed after publishing
    marker = artifacts.read_artifact(s3, artifacts.success_uri(prefix), artifacts.SuccessMarker)
    unpinned = artifacts.SuccessMarker.from_dict(
        {**marker.to_dict(), "parts": [{**marker.parts[0].to_dict(), "version_id": None}]}
    )
    artifacts.write_artifact(s3, artifacts.success_uri(prefix), unpinned)
    with pytest.raises(IntegrityError, match="Checksum mismatch"):
        monitoring.read_predictions(s3, bucket, "credit", day)
    storage.put_json(s3, artifacts.success_uri(prefix), {"format": "mlops.predictions/v1", "parts": []})
    with pytest.raises(ArtifactSchemaError, match="schema_version None"):
        monitoring.read_predictions(s3, bucket, "credit", day)


def test_nightly_drift_fails_clearly_without_scored_days(s3, bucket, credit_cfg, credit_day):
    profile_uri = f"s3://{bucket}/p/reference_profile.json"
    artifacts.write_artifact(s3, profile_uri, profiling.build_reference_profile(credit_day[0], credit_cfg))
    with pytest.raises(InputReadError, match="No scored day of credit between 2026-03-01 and 2026-03-03"):
        monitoring.monitor_drift(s3, bucket, credit_cfg, "2026-03-03", reference_uri=profile_uri)
    with pytest.raises(ConfigError, match="'day' parameter must be YYYY-MM-DD"):
        monitoring.monitor_drift(s3, bucket, credit_cfg, "yesterday", reference_uri=profile_uri)
    storage.put_json(s3, profile_uri, {"schema": "mlops.reference_profile/v1", "features": {}})
    with pytest.raises(ArtifactSchemaError, match="reference_profile at .* has schema_version None"):
        monitoring.monitor_drift(s3, bucket, credit_cfg, "2026-03-03", reference_uri=profile_uri)
    with pytest.raises(InputReadError, match="No drift result .*; run monitor_drift for 2026-03-03 first"):
        monitoring.evaluate_night(s3, bucket, credit_cfg, "2026-03-03")
    with pytest.raises(InputReadError, match="No night verdict"):
        monitoring.write_retrain_request(s3, bucket, credit_cfg, "2026-03-03")


def test_cli_drift_on_local_files(tmp_path, credit_cfg, credit_pools, capsys):
    from mlops.cli import main

    ref_pool, cur_pool = credit_pools
    ref_path, cur_path, bad_path = (
        tmp_path / "ref.parquet",
        tmp_path / "cur.parquet",
        tmp_path / "bad.parquet",
    )
    ref_pool.iloc[:3000].to_parquet(ref_path)
    cur_pool.iloc[:3000].to_parquet(cur_path)
    _inject(cur_pool.iloc[:3000]).to_parquet(bad_path)
    assert (
        main(["drift", "--reference", str(ref_path), "--current", str(cur_path), "--dataset", "credit"]) == 0
    )
    assert "VERDICT: OK" in capsys.readouterr().out
    assert main(["drift", "--reference", str(ref_path), "--current", str(bad_path), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "ALERT" and set(out["drifted_features"]) >= {"age", "loan_amount", "region"}
    assert main(["drift", "--reference", str(tmp_path / "nope.parquet"), "--current", str(cur_path)]) == 2
