"""Training: window planning, lineage, the pipeline from config, determinism, candidate artifacts."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from mlops import artifacts, metrics, models, storage, training
from mlops.errors import ArtifactSchemaError, ConfigError
from tests.include.mlops.training_world import END, START, fast, seed_validated, with_updates


@pytest.fixture(scope="module")
def credit_frame(credit_cfg):
    """Six labelled credit days in memory (no S3), sorted like the training split."""
    from mlops.dev.datagen import daterange, generate_day

    parts = []
    for day in daterange(START, 6):
        features, labels = generate_day(credit_cfg, day, 250)
        parts.append(features.merge(labels, on=credit_cfg.id_column))
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------- window
def test_plan_window_uses_days_with_due_labels(s3, bucket, credit_cfg):
    seed_validated(s3, bucket, credit_cfg)
    plan = training.plan_window(s3, credit_cfg, bucket=bucket, end=END, window_days=12)
    assert plan.days[0] == "2026-01-01" and plan.days[-1] == "2026-01-09"
    assert len(plan.batch_uris) == 9
    assert plan.skipped["2026-01-10"].startswith("labels not due before 2026-01-12")
    # A backfill never sees labels from its future: at 01-09 only days up to 01-06 count.
    early = training.plan_window(s3, credit_cfg, bucket=bucket, end=date(2026, 1, 9), window_days=9)
    assert early.days[-1] == "2026-01-06"


def test_plan_window_with_too_few_days_fails_with_the_fix(s3, bucket, credit_cfg):
    seed_validated(s3, bucket, credit_cfg, days=7)
    with pytest.raises(training.InsufficientDataError, match=r"Only 4 usable day\(s\).*need at least 6"):
        training.plan_window(s3, credit_cfg, bucket=bucket, end=date(2026, 1, 7), window_days=7)


def test_window_days_param_must_exceed_the_holdout(credit_cfg):
    with pytest.raises(
        ConfigError, match="'window_days' parameter must be greater than training.holdout_days"
    ):
        training.resolve_window_days(credit_cfg, 5)
    assert training.resolve_window_days(credit_cfg, None) == credit_cfg.training.window_days
    assert training.resolve_window_days(credit_cfg, "12") == 12
    with pytest.raises(ConfigError, match="'window_days' parameter must be an integer. Got 'None' instead"):
        training.resolve_window_days(credit_cfg, "None")  # blanks are the operators' to parse


def test_training_data_skips_rejected_days_and_records_lineage(s3, bucket, credit_cfg):
    seed_validated(s3, bucket, credit_cfg, rejected=(date(2026, 1, 2),))
    plan = training.plan_window(s3, credit_cfg, bucket=bucket, end=END, window_days=12)
    data = training.load_training_data(s3, credit_cfg, plan)
    assert data.excluded["2026-01-02"] == "validation failed"
    assert data.split.train_days == ["2026-01-01", "2026-01-03", "2026-01-04"]
    assert data.split.holdout_days == [
        "2026-01-05",
        "2026-01-06",
        "2026-01-07",
        "2026-01-08",
        "2026-01-09",
    ]
    assert data.split.train_rows == len(data.train) == 900 and len(data.holdout) == 1500
    assert data.train["application_date"].max() < data.holdout["application_date"].min()
    item = data.lineage[0]
    assert item.batch_version_id and item.labels_version_id and item.split == "train"
    assert item.batch_sha256 == storage.sha256_bytes(storage.get_bytes(s3, item.batch_uri))
    assert item.validation_uri == artifacts.validation_uri(item.batch_uri)
    assert [d.split for d in data.lineage[-5:]] == ["holdout"] * 5
    assert len(data.data_hash) == 64
    positive = (data.train["default"] == 1).mean()
    assert data.split.train_positive_rate == pytest.approx(positive, abs=1e-6)


def test_a_missing_validation_result_leaves_the_day_out(s3, bucket, credit_cfg):
    seed_validated(s3, bucket, credit_cfg)
    missing = artifacts.batch_uri(bucket, "credit", "2026-01-03")
    storage.delete(s3, artifacts.validation_uri(missing))
    plan = training.plan_window(s3, credit_cfg, bucket=bucket, end=END, window_days=12)
    data = training.load_training_data(s3, credit_cfg, plan)
    assert data.excluded["2026-01-03"] == "no validation result"
    assert "2026-01-03" not in data.split.train_days


def test_a_validation_result_of_another_schema_is_refused(s3, bucket, credit_cfg):
    """The old untyped ``{"success": true}`` is not a ValidationResult: a clear error, never a guess."""
    seed_validated(s3, bucket, credit_cfg)
    batch = artifacts.batch_uri(bucket, "credit", "2026-01-03")
    storage.put_json(s3, artifacts.validation_uri(batch), {"success": True, "data_uri": batch})
    plan = training.plan_window(s3, credit_cfg, bucket=bucket, end=END, window_days=12)
    with pytest.raises(
        ArtifactSchemaError, match="validation_result at .*2026-01-03.* has schema_version None"
    ):
        training.load_training_data(s3, credit_cfg, plan)


# ---------------------------------------------------------------- model from config
@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("logistic_regression", {"penalty": "l2", "C": 0.5}),
        ("logistic_regression", {"penalty": "l1", "C": 0.5}),
        ("sgd_classifier", {"penalty": "elasticnet", "alpha": 0.001, "l1_ratio": 0.3}),
        ("sgd_classifier", {"penalty": "l1", "alpha": 0.001}),
        ("random_forest", {"n_estimators": 20, "max_depth": 5}),
        ("hist_gradient_boosting", {"max_iter": 30}),
        ("dummy", {}),
    ],
)
def test_each_classifier_fits_and_scores_probabilities(credit_cfg, credit_frame, estimator, params):
    cfg = with_updates(credit_cfg, model={"estimator": estimator, "params": params, "search": None})
    fit = training.fit_model(cfg, credit_frame, training.plan_model(cfg))
    pred, proba = models.predict(fit.model, credit_frame.head(50), cfg)
    assert pred.shape == proba.shape == (50,)
    assert np.all((proba >= 0) & (proba <= 1))
    if estimator == "sgd_classifier":
        assert fit.model.named_steps["model"].loss == "log_loss"


def test_logistic_penalty_is_translated_to_l1_ratio():
    model = training.make_estimator("logistic_regression", "classification", params={"penalty": "l1"})
    assert model.l1_ratio == 1.0 and model.solver == "saga" and model.penalty == "deprecated"
    with pytest.raises(ConfigError, match="'penalty' parameter of logistic_regression"):
        training.make_estimator("logistic_regression", "classification", params={"penalty": "l3"})


@pytest.mark.parametrize(
    "estimator", ["ridge", "elastic_net", "random_forest", "hist_gradient_boosting", "dummy"]
)
def test_each_regressor_fits(diabetes_cfg, estimator):
    from mlops.dev.datagen import generate_day

    features, labels = generate_day(diabetes_cfg, START, 200)
    frame = features.merge(labels, on=diabetes_cfg.id_column)
    cfg = with_updates(diabetes_cfg, model={"estimator": estimator, "params": {}, "search": None})
    fit = training.fit_model(cfg, frame, training.plan_model(cfg))
    pred, proba = models.predict(fit.model, frame, cfg)
    assert proba is None and np.isfinite(pred).all()


@pytest.mark.parametrize(
    ("kind", "members"),
    [
        ("voting", ["logistic_regression", "random_forest"]),
        ("stacking", ["logistic_regression", "sgd_classifier"]),
    ],
)
def test_ensemble_from_config(credit_cfg, credit_frame, kind, members):
    cfg = with_updates(
        credit_cfg,
        model={
            "estimator": "logistic_regression",
            "params": {"C": 0.5},
            "search": {"kind": "grid", "cv": 2, "space": {"C": [0.1, 1.0]}},
            "ensemble": {"kind": kind, "estimators": members},
        },
    )
    plan = training.plan_model(cfg)
    model = training.build_model(cfg, plan)
    assert "model__logistic_regression__C" in model.param_grid
    fit = training.fit_model(cfg, credit_frame, plan)
    assert type(fit.model.named_steps["model"]).__name__ == f"{kind.capitalize()}Classifier"
    assert fit.best_params["logistic_regression__C"] in (0.1, 1.0)
    _, proba = models.predict(fit.model, credit_frame.head(20), cfg)
    assert proba.shape == (20,)


def test_unknown_search_key_names_the_config(credit_cfg):
    cfg = with_updates(credit_cfg, model={"search": {"kind": "grid", "space": {"learning_rte": [0.1]}}})
    with pytest.raises(ConfigError, match=r"model.search.space keys \['model__learning_rte'\].*credit.yaml"):
        training.build_model(cfg, training.plan_model(cfg))


def test_unknown_param_and_estimator_are_config_errors(credit_cfg):
    with pytest.raises(ConfigError, match=r"Parameter\(s\) \['n_trees'\] are not parameters"):
        training.make_estimator("random_forest", "classification", params={"n_trees": 3})
    with pytest.raises(ConfigError, match="'estimator' parameter must be a classification estimator"):
        training.plan_model(credit_cfg, estimator="ridge")
    with pytest.raises(ConfigError, match="'search' parameter must be one of"):
        training.plan_model(credit_cfg, search="maybe")


def test_estimator_override_uses_its_defaults(credit_cfg):
    plan = training.plan_model(credit_cfg, estimator="dummy")
    assert plan.estimator == "dummy" and plan.params == {} and plan.search is None
    assert "using its defaults" in plan.notes[0]
    assert training.plan_model(credit_cfg, search="none").search is None


def test_same_data_and_config_give_identical_predictions(credit_cfg, credit_frame):
    cfg = fast(credit_cfg)
    first = training.fit_model(cfg, credit_frame, training.plan_model(cfg)).model
    second = training.fit_model(cfg, credit_frame, training.plan_model(cfg)).model
    _, p1 = models.predict(first, credit_frame, cfg)
    _, p2 = models.predict(second, credit_frame, cfg)
    assert np.array_equal(p1, p2)


# ---------------------------------------------------------------- the whole step
def test_train_candidate_writes_artifacts_and_is_reproducible(s3, bucket, credit_cfg):
    from mlops import evaluation, serialization

    cfg = fast(credit_cfg)
    seed_validated(s3, bucket, cfg)
    kwargs = {"bucket": bucket, "end": END, "window_days": 12}
    first = training.train_candidate(s3, cfg, run_id="run_a", **kwargs)
    assert first.candidate_prefix.startswith(f"s3://{bucket}/candidates/credit/run_a__")
    names = {u.rsplit("/", 1)[1] for u in storage.list_uris(s3, first.candidate_prefix)}
    assert names == {"model.skops", "training.json", "reference_profile.json"}
    record = artifacts.read_artifact(s3, first.training_uri, artifacts.TrainingRecord)
    assert record.candidate_uri == first.candidate_prefix and record.run == {"run_id": "run_a"}
    assert record.request == {"day": "2026-01-12", "window_days": 12, "estimator": cfg.model.estimator,
                              "search": "config"}  # fmt: skip
    assert record.split.holdout_days[0] == "2026-01-05"
    assert record.lineage[0].batch_version_id and record.data_hash == first.data_hash
    assert record.feature_signature.columns[0] == artifacts.FeatureColumn("age", "numeric", "float64", False)
    assert record.feature_signature == training.feature_signature(cfg)
    assert record.model_plan.seed == cfg.model.seed and set(record.best_params) == {"learning_rate"}
    assert len(record.canned_rows) == training.CANNED_ROWS
    assert record.model_size == len(storage.get_bytes(s3, first.model_uri))
    assert record.model_sha256 == first.model_sha256 and set(record.libraries) >= {"python", "sklearn"}
    profile = artifacts.read_artifact(s3, first.reference_profile_uri, artifacts.ReferenceProfile)
    assert profile.row_count == record.split.train_rows and profile.importances
    assert set(profile.features) == set(cfg.feature_columns) and profile.prediction.kind == "probability"

    again = training.train_candidate(s3, cfg, run_id="run_a", **kwargs)
    assert again.reused and again.model_sha256 == first.model_sha256

    second = training.train_candidate(s3, cfg, run_id="run_b", **kwargs)
    holdout = evaluation.read_split(s3, cfg, record.lineage, "holdout")
    fitted = [
        serialization.load_model(storage.get_bytes(s3, r.model_uri), expected_sha256=r.model_sha256)
        for r in (first, second)
    ]
    (_, p1), (_, p2) = (models.predict(m, holdout, cfg) for m in fitted)
    assert np.array_equal(p1, p2)


def test_a_different_request_never_reuses_a_candidate(s3, bucket, credit_cfg):
    cfg = fast(credit_cfg)
    seed_validated(s3, bucket, cfg)
    a = training.train_candidate(s3, cfg, bucket=bucket, end=END, run_id="same", window_days=12)
    b = training.train_candidate(
        s3, cfg, bucket=bucket, end=END, run_id="same", window_days=12, estimator="dummy"
    )
    assert a.candidate_prefix != b.candidate_prefix and not b.reused and b.estimator == "dummy"


# ---------------------------------------------------------------- the positive class
def _relabel(client, bucket: str, cfg, names: dict) -> None:
    """Rewrite every seeded labels file with string labels (``names`` maps 0/1 to a label)."""
    for uri in storage.list_uris(client, f"s3://{bucket}/data/{cfg.name}/labels/"):
        frame = storage.read_table(client, uri)
        frame[cfg.target] = frame[cfg.target].map(names).astype("object")
        storage.write_parquet(client, uri, frame)


def test_string_labels_train_for_the_configured_positive_class(s3, bucket, credit_cfg):
    """positive_class "bad" is the smaller label: the probability, the rates and the metrics are about it."""
    cfg = with_updates(fast(credit_cfg), positive_class="bad", validation={"target_values": ["bad", "good"]})
    seed_validated(s3, bucket, cfg)
    _relabel(s3, bucket, cfg, {1: "bad", 0: "good"})
    cand = training.train_candidate(s3, cfg, bucket=bucket, end=END, run_id="strings", window_days=12)
    record = artifacts.read_artifact(s3, cand.training_uri, artifacts.TrainingRecord)
    plan = training.plan_window(s3, cfg, bucket=bucket, end=END, window_days=12)
    data = training.load_training_data(s3, cfg, plan)
    bad_share = float((data.train["default"] == "bad").mean())
    assert bad_share < 0.5 and record.split.train_positive_rate == pytest.approx(bad_share, abs=1e-6)

    from mlops import serialization

    model = serialization.load_model(storage.get_bytes(s3, cand.model_uri), expected_sha256=cand.model_sha256)
    assert list(model.classes_) == [
        "bad",
        "good",
    ]  # "bad" is classes_[0]: the old classes_[-1] rule was wrong
    pred, proba = models.predict(model, data.holdout, cfg)
    y = models.target_array(data.holdout, cfg)
    assert set(pred) <= {"bad", "good"} and y.dtype == object
    assert proba[y == "bad"].mean() > proba[y == "good"].mean() + 0.1  # the probability of "bad"
    scores = metrics.compute_metrics(cfg, y, pred, proba)
    assert scores["roc_auc"] > 0.7 and scores["recall"] == pytest.approx(
        ((pred == "bad") & (y == "bad")).sum() / (y == "bad").sum()
    )
    profile = artifacts.read_artifact(s3, cand.reference_profile_uri, artifacts.ReferenceProfile)
    assert profile.prediction.mean == pytest.approx(bad_share, abs=0.1)  # scores of "bad", not of "good"


def test_search_scores_one_class_metrics_for_the_positive_class(credit_cfg, credit_frame):
    frame = credit_frame.assign(default=credit_frame["default"].map({1: "bad", 0: "good"}).astype("object"))
    cfg = with_updates(
        credit_cfg,
        positive_class="bad",
        validation={"target_values": ["bad", "good"]},
        model={
            "estimator": "logistic_regression",
            "params": {},
            "search": {"kind": "grid", "cv": 2, "scoring": "recall", "space": {"C": [0.1, 1.0]}},
        },
    )
    fit = training.fit_model(cfg, frame, training.plan_model(cfg))
    assert fit.cv["scoring"] == "recall" and 0 < fit.cv["best_score"] < 0.9  # recall of "bad", not of "good"
    assert training.search_scorer(cfg, "roc_auc", frame["default"]) == "roc_auc"
