"""Training on any tabular dataset: multiclass targets, boolean features, integer ids, no date column,
labels carried in the features file."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from mlops import artifacts, evaluation, metrics, models, storage, training
from mlops.config import DatasetConfig
from mlops.errors import ConfigError
from tests.include.mlops.training_world import END, seed_validated, validation_result

START = date(2026, 1, 1)


@pytest.fixture(scope="module")
def wine_cfg():
    from mlops.config import load_dataset_config

    return load_dataset_config("wine")


def _flags_cfg(**changes) -> DatasetConfig:
    """A binary dataset with an integer id, a boolean and a categorical feature, no date column and
    its labels in the features file."""
    raw = {
        "name": "flags",
        "task": "classification",
        "id_column": "row_id",
        "id_type": "integer",
        "target": "churned",
        "labels": {"in_features": True},
        "features": {"numeric": ["tenure", "spend"], "categorical": ["plan"], "boolean": ["autopay"]},
        "model": {"estimator": "logistic_regression"},
        "training": {"window_days": 8, "holdout_days": 3, "slice_columns": ["autopay"]},
        "gate": {"primary_metric": "roc_auc", "min_roc_auc": 0.6},
        **changes,
    }
    return DatasetConfig.model_validate(raw)


def _flags_day(cfg: DatasetConfig, day: date, n: int = 300, *, labelled: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(day.toordinal())
    autopay = rng.random(n) < 0.5
    tenure = rng.integers(1, 60, n).astype(float)
    logit = -0.5 - 1.6 * autopay + 0.03 * (30 - tenure)
    frame = pd.DataFrame(
        {
            "row_id": np.int64(day.toordinal()) * 10_000 + np.arange(n, dtype="int64"),
            "tenure": tenure,
            "spend": rng.gamma(2, 20, n).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "autopay": autopay,
        }
    )
    if labelled:
        frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return frame


def _seed_flags(client, bucket: str, cfg: DatasetConfig, days: int = 8, unlabelled: tuple[date, ...] = ()):
    for i in range(days):
        day = START + timedelta(days=i)
        uri = artifacts.batch_uri(bucket, cfg.name, day)
        storage.write_parquet(client, uri, _flags_day(cfg, day, labelled=day not in unlabelled))
        artifacts.write_artifact(
            client, artifacts.validation_uri(uri), validation_result(cfg, uri, success=True, rows=300)
        )


# ---------------------------------------------------------------- the model's input
def test_boolean_features_are_encoded_as_numbers(s3, bucket):
    cfg = _flags_cfg()
    frame = pd.DataFrame(
        {
            "tenure": [1, 2, 3, 4],
            "spend": [1.0, 2, 3, 4],
            "plan": ["basic", None, "pro", "plus"],
            "autopay": pd.array([True, False, None, True], dtype="boolean"),
        }
    )
    X = models.feature_frame(frame, cfg)
    assert X["autopay"].tolist()[:2] == [1.0, 0.0] and np.isnan(X["autopay"].iloc[2])
    text = models.boolean_values(pd.Series(["TRUE", "false", "yes", None]))
    assert text[:2].tolist() == [1.0, 0.0] and np.isnan(text[2:]).all()  # "yes" is not a boolean spelling
    encoded = training.make_preprocessor(cfg).fit_transform(X)
    assert encoded.dtype.kind == "f" and not np.isnan(encoded).any()  # the missing boolean is imputed
    signature = training.feature_signature(cfg)
    assert [(c.name, c.kind, c.dtype) for c in signature.columns][-1] == ("autopay", "boolean", "bool")


# ---------------------------------------------------------------- labels in the batch, no date, int ids
def test_labels_in_the_batch_and_the_partition_day_drive_the_split(s3, bucket):
    cfg = _flags_cfg()
    unlabelled = START + timedelta(days=2)
    _seed_flags(s3, bucket, cfg, unlabelled=(unlabelled,))
    end = START + timedelta(days=7)
    plan = training.plan_window(s3, cfg, bucket=bucket, end=end)
    assert len(plan.days) == 8  # the labels travel with the batch: no labels/ files needed
    data = training.load_training_data(s3, cfg, plan)
    assert data.excluded[unlabelled.isoformat()].startswith("no labelled rows")
    assert data.split.holdout_days == ["2026-01-06", "2026-01-07", "2026-01-08"]
    assert data.split.train_rows == 4 * 300 and data.split.holdout_rows == 3 * 300
    assert data.train["row_id"].is_monotonic_increasing and str(data.train["row_id"].dtype) == "int64"
    day = data.lineage[0]
    assert day.labels_uri == day.batch_uri and day.labels_sha256 == day.batch_sha256

    result = training.train_candidate(s3, cfg, bucket=bucket, end=end, run_id="flags-1")
    record = artifacts.read_artifact(s3, result.training_uri, artifacts.TrainingRecord)
    assert record.date_column is None and record.id_column == "row_id"
    assert 0 < record.split.train_positive_rate < 1 and "autopay" in record.importances
    assert isinstance(record.canned_rows[0]["autopay"], float)
    scored = evaluation.evaluate_candidate(s3, cfg, result.candidate_prefix, bucket=bucket)
    assert scored.candidate["roc_auc"] > 0.6 and scored.holdout_rows == 900  # re-read from the batch itself
    blessing = evaluation.gate_candidate(s3, cfg, result.candidate_prefix)
    assert blessing.blessed, blessing.verdict_line()


def test_a_batch_without_its_target_has_no_labelled_rows(s3, bucket):
    cfg = _flags_cfg()
    frame = _flags_day(cfg, START, labelled=False)
    assert training.labelled_rows(cfg, frame, "s3://b/x.parquet").empty
    frame["churned"] = [1, None] * 150
    assert len(training.labelled_rows(cfg, frame, "s3://b/x.parquet")) == 150


# ---------------------------------------------------------------- multiclass
def test_multiclass_candidate_end_to_end_in_process(s3, bucket, wine_cfg):
    seed_validated(s3, bucket, wine_cfg, rows=120)
    result = training.train_candidate(s3, wine_cfg, bucket=bucket, end=END, run_id="wine-1", window_days=12)
    record = artifacts.read_artifact(s3, result.training_uri, artifacts.TrainingRecord)
    assert record.split.train_positive_rate is None and record.split.holdout_positive_rate is None
    profile = artifacts.read_artifact(s3, result.reference_profile_uri, artifacts.ReferenceProfile)
    assert profile.prediction.kind == "categorical"
    assert sum(profile.prediction.counts.values()) == record.split.train_rows

    scored = evaluation.evaluate_candidate(s3, wine_cfg, result.candidate_prefix, bucket=bucket)
    assert set(scored.candidate) == set(metrics.MULTICLASS_METRICS)
    blessing = evaluation.gate_candidate(s3, wine_cfg, result.candidate_prefix)
    assert blessing.blessed and {r.rule for r in blessing.rules} >= {"min_accuracy", "max_log_loss"}
    assert blessing.candidate_metrics["log_loss"] < 0.5


def test_multiclass_predict_gives_every_class_and_the_predicted_class_probability(wine_cfg):
    from mlops.dev import datagen

    features, labels = datagen.generate_day(wine_cfg, START, 200)
    frame = features.merge(labels, on=wine_cfg.id_column)
    model = training.build_model(wine_cfg, training.plan_model(wine_cfg, search="none"))
    model.fit(models.feature_frame(frame, wine_cfg), models.target_array(frame, wine_cfg))
    scores = models.predict_proba(model, frame, wine_cfg)
    assert scores.multiclass and scores.classes == [0, 1, 2] and scores.positive is None
    assert scores.proba.shape == (200, 3) and np.allclose(scores.proba.sum(axis=1), 1)
    pred, confidence = models.predict(model, frame, wine_cfg)
    assert (pred == scores.prediction).all() and np.allclose(confidence, scores.proba.max(axis=1))
    importances = training.permutation_importances(model, wine_cfg, frame, seed=0)
    assert set(importances) == set(wine_cfg.feature_columns)
    assert training.importance_scoring(model, wine_cfg, frame["cultivar"]) == "roc_auc_ovr"
    assert training.importance_scoring(model, wine_cfg, frame["cultivar"].clip(0, 1)) == "accuracy"


def test_search_scorings_for_a_multiclass_target(wine_cfg, credit_cfg):
    y = np.array([0, 1, 2, 1])
    assert training.default_scoring(wine_cfg) == "f1_macro"  # validation.target_values has 3 classes
    assert training.default_scoring(credit_cfg) == "roc_auc"
    assert training.search_scorer(wine_cfg, "f1", y) == "f1_macro"
    assert training.search_scorer(wine_cfg, "roc_auc", y) == "roc_auc_ovr"
    assert training.search_scorer(wine_cfg, "accuracy", y) == "accuracy"
    with pytest.raises(
        ConfigError, match=r"'average_precision' of include/configs/wine\.yaml is binary only"
    ):
        training.search_scorer(wine_cfg, "average_precision", y)


# ---------------------------------------------------------------- gates and fairness of a multiclass model
def _with_site(client, bucket: str, cfg: DatasetConfig) -> None:
    """Give every seeded wine batch a ``site`` column (a batch column the model does not use)."""
    rng = np.random.default_rng(4)
    for i in range(12):
        uri = artifacts.batch_uri(bucket, cfg.name, START + timedelta(days=i))
        batch = storage.read_table(client, uri)
        batch["site"] = rng.choice(["north", "south"], len(batch))
        storage.write_parquet(client, uri, batch)


def test_multiclass_gate_floors_and_fairness_on_a_trained_wine_model(s3, bucket):
    from tests.include.mlops.test_fairness import _wine_with

    gate = {"primary_metric": "f1_macro", "min_f1_macro": 0.8, "min_roc_auc_ovr": 0.9}
    fairness = {
        "sensitive_features": ["site"],
        "limits": {"accuracy_group_min": 0.7, "recall_macro_difference": 0.3},
        "min_group_rows": 20,
    }
    cfg = _wine_with(gate=gate, fairness=fairness)
    seed_validated(s3, bucket, cfg, rows=120)
    _with_site(s3, bucket, cfg)
    result = training.train_candidate(s3, cfg, bucket=bucket, end=END, run_id="wine-fair", window_days=12)
    scored = evaluation.evaluate_candidate(s3, cfg, result.candidate_prefix, bucket=bucket)
    assert scored.primary_metric == "f1_macro" and scored.candidate["f1_macro"] > 0.8
    stored = artifacts.read_artifact(s3, scored.metrics_uri, artifacts.CandidateMetrics).candidate
    site = stored.fairness["site"]
    assert set(site["groups"]) == {"north", "south"} and set(site["groups"]["north"]) == {
        "n",
        "accuracy",
        "recall_macro",
    }
    assert set(site["disparities"]) == {
        "accuracy_difference",
        "recall_macro_difference",
        "accuracy_group_min",
    }
    low = min(g["accuracy"] for g in site["groups"].values())
    assert site["disparities"]["accuracy_group_min"] == pytest.approx(low)

    blessing = evaluation.gate_candidate(s3, cfg, result.candidate_prefix)
    rules = {r.rule: r for r in blessing.rules}
    assert blessing.blessed, evaluation.rules_table(blessing.rules)
    assert rules["min_f1_macro"].verdict == "pass" and rules["min_roc_auc_ovr"].verdict == "pass"
    assert rules["f1_macro_vs_production"].verdict == "skip"  # no production yet
    assert rules["fairness accuracy_group_min[site]"].candidate == pytest.approx(low)

    strict = _wine_with(
        gate={**gate, "min_f1_macro": scored.candidate["f1_macro"] + 0.001},  # just above the holdout's
        fairness={**fairness, "limits": {"accuracy_group_min": low + 0.001}},
    )
    refused = evaluation.gate_candidate(s3, strict, result.candidate_prefix)
    failed = {r.rule for r in refused.rules if r.verdict == "fail"}
    assert not refused.blessed and failed == {"min_f1_macro", "fairness accuracy_group_min[site]"}


def test_binary_metric_names_stop_a_multiclass_evaluation_when_the_config_did_not_declare_classes(s3, bucket):
    from tests.include.mlops.test_fairness import _wine_with

    cfg = _wine_with(validation={"target_values": None, "class_shares": {}}, gate={"min_roc_auc": 0.7})
    seed_validated(s3, bucket, cfg, rows=120)
    result = training.train_candidate(s3, cfg, bucket=bucket, end=END, run_id="wine-auc", window_days=12)
    with pytest.raises(ConfigError) as err:
        evaluation.evaluate_candidate(s3, cfg, result.candidate_prefix, bucket=bucket)
    assert str(err.value).startswith(
        "include/configs/wine.yaml: gate.min_roc_auc 'roc_auc': binary-only metric(s), but the target is "
        "multiclass (the model has 3 classes [0, 1, 2]); use one of the multiclass metrics ['accuracy', "
        "'precision_macro', 'recall_macro', 'f1_macro',"
    )
    assert not storage.exists(s3, artifacts.metrics_uri(result.candidate_prefix))  # refused before scoring


# ---------------------------------------------------------------- the registry's smoke input
def test_smoke_input_gives_boolean_features_real_values():
    """Without canned rows the smoke check builds rows from the signature: a boolean feature is true in
    one row and false in the other (as the model sees booleans, 1.0/0.0), never a missing value."""
    from mlops import serialization
    from mlops.registry.smoke import check_in_child, smoke_frame, smoke_predict

    cfg = _flags_cfg()
    frame = pd.concat([_flags_day(cfg, START + timedelta(days=i)) for i in range(3)], ignore_index=True)
    model = training.build_model(cfg, training.plan_model(cfg, search="none"))
    model.fit(models.feature_frame(frame, cfg), models.target_array(frame, cfg))
    signature = training.feature_signature(cfg)
    smoke = smoke_frame(model, signature)
    assert smoke["autopay"].tolist() == [1.0, 0.0] and smoke["autopay"].dtype == "float64"
    assert smoke["plan"].tolist()[0] in {"basic", "plus", "pro"} and smoke["tenure"].tolist() == [0.0, 0.0]
    assert len(smoke_predict(model, signature)) == 2
    proba = model.predict_proba(smoke)[:, 1]
    assert proba[0] < proba[1] - 0.05  # autopay lowers churn: the boolean reached the model
    data = serialization.dump_model(model)
    result = check_in_child(
        data, sha256=serialization.sha256_hex(data), where="flags smoke", signature=signature, rows=None
    )
    assert result["ok"] and result["rows"] == 2
