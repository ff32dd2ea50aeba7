"""One metrics module and one positive-class rule for evaluation and monitoring.

The same predictions scored through evaluation (holdout) and monitoring (a production
day) must give the same numbers, for int, bool and string labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops import evaluation, metrics, monitoring
from mlops.config import DatasetConfig
from mlops.errors import ConfigError

CLASSIFICATION = {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}


# ---------------------------------------------------------------- helpers
def _cfg(base: DatasetConfig, **changes) -> DatasetConfig:
    raw = base.to_dict()
    raw["validation"]["target_values"] = None
    raw.update(changes)
    return DatasetConfig.model_validate(raw)


def _scored(n: int = 400, seed: int = 3):
    """0/1 truth, the positive-class probability and the predicted 0/1 class (a decent, imperfect model)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    proba = np.clip(0.25 + 0.5 * y + rng.normal(0, 0.2, n), 0.01, 0.99)
    return y, proba, (proba >= 0.5).astype(int)


def _both_paths(cfg: DatasetConfig, y_true, pred, proba) -> tuple[dict, dict]:
    """Metrics of the same predictions via evaluation (holdout) and monitoring (a labelled day)."""
    n = len(y_true)
    frame = pd.DataFrame(
        {cfg.id_column: np.arange(n), "region": np.where(np.arange(n) % 2, "north", "south")}
    )
    frame["home_ownership"] = "rent"
    held = evaluation.evaluate_predictions(cfg, frame, y_true, pred, proba).metrics
    predictions = pd.DataFrame({cfg.id_column: np.arange(n), "probability": proba, "prediction": pred})
    labels = pd.DataFrame({cfg.id_column: np.arange(n), cfg.target: y_true})
    day = monitoring.day_performance(cfg, "2026-01-06", predictions, labels)
    assert day.source == "realised" and day.metrics["n"] == n
    return held, {k: v for k, v in day.metrics.items() if k in CLASSIFICATION}


# ---------------------------------------------------------------- the rule
@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([0, 1, 1, 0], 1),
        ([0.0, 1.0], 1),
        ([0, 0, 0], 1),  # a day with no positives keeps 1, not 0
        ([False, True], True),
        ([False, False], True),
        (["no", "yes", "no"], "yes"),
        (np.array(["bad", "good", None], dtype=object), "good"),
        ([1, 2, 2], 2),
        ([], 1),
    ],
)
def test_fallback_rule_when_positive_class_is_unset(labels, expected):
    got = metrics.resolve_positive_class(None, labels)
    assert got == expected and type(got) is type(expected)


def test_configured_positive_class_wins(credit_cfg):
    cfg = _cfg(credit_cfg, positive_class="bad")
    assert metrics.resolve_positive_class(cfg, ["bad", "good"]) == "bad"
    assert metrics.resolve_positive_class(cfg, ["good"]) == "bad"  # a one-class slice keeps it
    assert metrics.resolve_positive_class(0, [0, 1]) == 0


@pytest.mark.parametrize(
    ("configured", "labels", "match"),
    [
        ("bad", ["no", "yes"], r"positive_class 'bad' is not one of the target labels \['no', 'yes'\]"),
        ("1", [0, 1], r"positive_class '1' is not one of the target labels"),
        (None, ["good"], r"Cannot tell the positive class from the single label 'good'; set positive_class"),
        (
            None,
            ["a", "b", "c"],
            r"has 3 labels .* it is multiclass, and a positive class exists only for binary",
        ),
        (None, ["a", 2], r"mix types and cannot be sorted; set positive_class"),
    ],
)
def test_ambiguous_or_wrong_positive_class_is_refused(configured, labels, match):
    with pytest.raises(ConfigError, match=match):
        metrics.resolve_positive_class(configured, labels)


def test_positive_index_picks_the_predict_proba_column(credit_cfg):
    assert metrics.positive_index(None, np.array([0, 1])) == 1
    assert metrics.positive_index(None, np.array(["no", "yes"], dtype=object)) == 1
    assert metrics.positive_index(_cfg(credit_cfg, positive_class="bad"), np.array(["bad", "good"])) == 0
    with pytest.raises(
        ConfigError, match=r"positive_class 'bad' is not one of the model's classes \['good'\]"
    ):
        metrics.positive_index("bad", ["good"])


def test_refusal_names_the_config_file(credit_cfg):
    with pytest.raises(ConfigError, match=r"set positive_class in include/configs/credit\.yaml"):
        metrics.resolve_positive_class(credit_cfg, np.array(["good", "good"], dtype=object))


# ---------------------------------------------------------------- one API, two paths
def test_int_labels_match_sklearn_and_both_paths(credit_cfg):
    from sklearn import metrics as skm

    y, proba, pred = _scored()
    held, day = _both_paths(credit_cfg, y, pred, proba)
    assert held == day
    assert held["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert held["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert held["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert held["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert held["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba))
    assert held["log_loss"] == pytest.approx(skm.log_loss(y, proba))


def test_string_labels_with_configured_positive_class(credit_cfg):
    """'bad' is positive although it sorts first: the config decides, in both paths."""
    cfg = _cfg(credit_cfg, positive_class="bad")
    y, proba, pred = _scored()
    as_text = np.array(["good", "bad"], dtype=object)
    held, day = _both_paths(cfg, as_text[y], as_text[pred], proba)
    reference = metrics.classification_metrics(y, pred, proba, positive_class=1)
    assert held == day == reference
    # With the fallback rule 'good' would be positive and the numbers would differ.
    fallback = metrics.classification_metrics(as_text[y], as_text[pred], proba, positive_class="good")
    assert fallback["precision"] != pytest.approx(held["precision"])


def test_bool_labels_use_true_as_positive(credit_cfg):
    cfg = _cfg(credit_cfg)
    y, proba, pred = _scored(seed=5)
    held, day = _both_paths(cfg, y.astype(bool), pred.astype(bool), proba)
    assert held == day == metrics.classification_metrics(y, pred, proba, positive_class=1)


def test_string_labels_without_config_use_the_larger_label(credit_cfg):
    cfg = _cfg(credit_cfg)
    y, proba, pred = _scored(seed=7)
    as_text = np.array(["no", "yes"], dtype=object)
    held, day = _both_paths(cfg, as_text[y], as_text[pred], proba)
    assert held == day == metrics.classification_metrics(y, pred, proba, positive_class=1)


def test_metric_drop_compares_like_with_like(credit_cfg):
    """Holdout metrics from evaluation as the baseline, the same rows realised in monitoring: no drop."""
    cfg = _cfg(credit_cfg, positive_class="bad")
    y, proba, pred = _scored(seed=11)
    as_text = np.array(["good", "bad"], dtype=object)
    held, _ = _both_paths(cfg, as_text[y], as_text[pred], proba)
    ids = np.arange(len(y))
    predictions = pd.DataFrame({cfg.id_column: ids, "probability": proba, "prediction": as_text[pred]})
    labels = pd.DataFrame({cfg.id_column: ids, cfg.target: as_text[y]})
    report = monitoring.compute_performance(
        cfg, "2026-01-06", {"2026-01-06": (predictions, labels)}, baseline=held
    )
    for metric in CLASSIFICATION:
        assert monitoring.metric_change(report, metric)[2] == pytest.approx(0.0, abs=1e-12), metric
    assert report.realised["positive_rate"] == pytest.approx(y.mean())


def test_cbpe_estimate_with_string_predictions(credit_cfg):
    y, proba, pred = _scored(seed=13)
    as_text = np.array(["good", "bad"], dtype=object)
    text = metrics.estimate_classification_performance(proba, as_text[pred], positive_class="bad")
    ints = metrics.estimate_classification_performance(proba, pred)
    assert text == ints and text["n"] == len(y)
    cfg = _cfg(credit_cfg, positive_class="bad")
    predictions = pd.DataFrame(
        {cfg.id_column: np.arange(len(y)), "probability": proba, "prediction": as_text[pred]}
    )
    day = monitoring.day_performance(cfg, "2026-01-06", predictions, None)
    assert day.source == "estimated" and day.metrics == ints


def test_classification_metrics_pinned_values():
    y = np.array([0, 0, 1, 1, 1, 0])
    proba = np.array([0.1, 0.6, 0.7, 0.4, 0.9, 0.2])
    pred = (proba >= 0.5).astype(int)
    out = metrics.classification_metrics(y, pred, proba, positive_class=1)
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["precision"] == pytest.approx(2 / 3) and out["recall"] == pytest.approx(2 / 3)
    assert out["roc_auc"] == pytest.approx(8 / 9)
    assert metrics.confusion(y, pred) == {"labels": [0, 1], "matrix": [[2, 1], [1, 2]]}


def test_classification_metrics_one_class_has_no_auc():
    out = metrics.classification_metrics(np.zeros(3), np.zeros(3), np.full(3, 0.2), positive_class=1)
    assert out["roc_auc"] is None and out["accuracy"] == 1.0 and out["recall"] == 0.0
    assert set(out) == CLASSIFICATION


def test_prediction_defaults_to_the_threshold():
    y, proba, pred = _scored(seed=17)
    assert metrics.classification_metrics(y, None, proba, positive_class=1) == metrics.classification_metrics(
        y, pred, proba, positive_class=1
    )


def test_confusion_and_curves_with_string_labels():
    y, proba, pred = _scored(seed=19)
    as_text = np.array(["good", "bad"], dtype=object)
    cm = metrics.confusion(as_text[y], as_text[pred])
    assert cm["labels"] == ["bad", "good"] and np.sum(cm["matrix"]) == len(y)
    curves = metrics.classification_curves(as_text[y], proba, positive_class="bad")
    assert curves["roc_auc"] == pytest.approx(
        metrics.classification_metrics(y, pred, proba, positive_class=1)["roc_auc"]
    )
    assert curves["base_rate"] == pytest.approx(y.mean())
    assert (
        metrics.classification_curves(
            np.array(["bad"] * 3, dtype=object), [0.1, 0.2, 0.3], positive_class="bad"
        )
        is None
    )


# ---------------------------------------------------------------- regression and slices
def test_regression_metrics():
    out = metrics.regression_metrics([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 6.0])
    assert out["mse"] == pytest.approx(1.0) and out["rmse"] == pytest.approx(1.0)
    assert out["mae"] == pytest.approx(0.5) and out["r2"] == pytest.approx(0.2)
    assert set(out) == {"mse", "rmse", "mae", "r2", "explained_variance"}
    assert metrics.regression_metrics([1.0], [2.0])["r2"] is None


def test_regression_paths_agree(diabetes_cfg):
    rng = np.random.default_rng(0)
    y = rng.normal(150, 50, 200)
    pred = y + rng.normal(0, 20, 200)
    ids = np.arange(200)
    frame = pd.DataFrame({diabetes_cfg.id_column: ids})
    for col in diabetes_cfg.training.slice_columns:
        frame[col] = "a"
    held = evaluation.evaluate_predictions(diabetes_cfg, frame, y, pred).metrics
    predictions = pd.DataFrame({diabetes_cfg.id_column: ids, "prediction": pred})
    labels = pd.DataFrame({diabetes_cfg.id_column: ids, diabetes_cfg.target: y})
    day = monitoring.day_performance(diabetes_cfg, "2026-01-06", predictions, labels).metrics
    assert day.pop("n") == 200 and day == held


def test_slice_metrics_per_value(credit_cfg, credit_day):
    features, labels = credit_day
    frame = features.merge(labels, on="application_id")
    y = frame["default"].to_numpy()
    proba = np.linspace(0.01, 0.99, len(frame))
    slices = metrics.slice_metrics(credit_cfg, frame, y, (proba > 0.5).astype(int), proba)
    assert set(slices) == {"region", "home_ownership"}
    assert sum(s["n"] for s in slices["region"].values()) == len(frame)
    assert set(slices["region"]["north"]["metrics"]) == CLASSIFICATION


def test_one_class_slice_keeps_the_global_positive_class(credit_cfg):
    """A slice whose rows are all 'good' still scores 'bad' as positive (recall 0, not 1)."""
    cfg = _cfg(credit_cfg, positive_class=None)
    y = np.array(["no", "no", "yes", "no", "yes", "no"], dtype=object)
    pred = np.array(["no", "no", "yes", "no", "no", "no"], dtype=object)
    proba = np.array([0.1, 0.2, 0.8, 0.3, 0.4, 0.1])
    frame = pd.DataFrame({"region": ["a", "a", "b", "b", "b", "b"], "home_ownership": ["x"] * 6})
    slices = metrics.slice_metrics(cfg, frame, y, pred, proba)
    only_no = slices["region"]["a"]["metrics"]
    assert only_no["accuracy"] == 1.0 and only_no["precision"] == 0.0 and only_no["roc_auc"] is None
    assert slices["region"]["b"]["metrics"]["recall"] == pytest.approx(0.5)


def test_classification_needs_probabilities(credit_cfg):
    with pytest.raises(ConfigError, match="need probabilities"):
        metrics.compute_metrics(credit_cfg, [0, 1], [0, 1], None)


# ---------------------------------------------------------------- multiclass
def _three_classes(n: int = 300, seed: int = 5):
    """Truth in {0, 1, 2}, a ``predict_proba`` matrix that mostly favours the true class, the argmax."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    logits = rng.normal(0, 1, (n, 3))
    logits[np.arange(n), y] += 1.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba, proba.argmax(axis=1)


def test_multiclass_metrics_match_sklearn():
    from sklearn import metrics as skm

    y, proba, pred = _three_classes()
    got = metrics.multiclass_metrics(y, pred, proba, classes=[0, 1, 2])
    assert tuple(got) == metrics.MULTICLASS_METRICS
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    for average in ("macro", "weighted"):
        assert got[f"f1_{average}"] == pytest.approx(skm.f1_score(y, pred, average=average))
        assert got[f"precision_{average}"] == pytest.approx(skm.precision_score(y, pred, average=average))
        assert got[f"recall_{average}"] == pytest.approx(skm.recall_score(y, pred, average=average))
    assert got["roc_auc_ovr"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    # string labels score the same: the classes name the columns
    names = np.array(["red", "rose", "white"], dtype=object)
    assert metrics.multiclass_metrics(names[y], names[pred], proba, classes=names) == got


def test_multiclass_metrics_on_a_subset_missing_a_class():
    """A day or a slice with two of three classes: AUC over the classes present, macro over them too."""
    y, proba, pred = _three_classes()
    keep = y != 2
    got = metrics.multiclass_metrics(y[keep], pred[keep], proba[keep], classes=[0, 1, 2])
    assert got["roc_auc_ovr"] is not None and got["log_loss"] is not None
    unknown = metrics.multiclass_metrics(np.array([0, 3]), np.array([0, 1]), proba[:2], classes=[0, 1, 2])
    assert unknown["log_loss"] is None  # a label the model does not know has no probability
    with pytest.raises(ConfigError, match=r"must have one column per class \(3: \[0, 1, 2\]\)"):
        metrics.multiclass_metrics(y, pred, proba[:, :2], classes=[0, 1, 2])


def test_compute_metrics_picks_binary_or_multiclass_by_the_models_classes(credit_cfg):
    y, proba, pred = _three_classes()
    multi = metrics.compute_metrics(credit_cfg, y, pred, proba, classes=[0, 1, 2])
    assert set(multi) == set(metrics.MULTICLASS_METRICS)
    # the binary names and values are unchanged; a 2-column matrix with its classes gives the same numbers
    yb, pb, predb = _scored()
    one_column = metrics.compute_metrics(credit_cfg, yb, predb, pb)
    two_columns = metrics.compute_metrics(credit_cfg, yb, predb, np.c_[1 - pb, pb], classes=[0, 1])
    assert one_column == two_columns and set(one_column) == set(metrics.BINARY_METRICS)
    with pytest.raises(ConfigError, match="needs its classes"):
        metrics.compute_metrics(credit_cfg, yb, predb, np.c_[1 - pb, pb])
    assert metrics.is_multiclass([0, 1, 2]) and not metrics.is_multiclass(np.array([0, 1, 1]))


def test_multiclass_slices_and_per_class(credit_cfg):
    y, proba, pred = _three_classes(n=200)
    frame = pd.DataFrame({"region": np.where(y == 2, "only2", "rest"), "home_ownership": "rent"})
    slices = metrics.slice_metrics(credit_cfg, frame, y, pred, proba, classes=[0, 1, 2])
    assert set(slices["region"]["only2"]["metrics"]) == set(metrics.MULTICLASS_METRICS)
    assert slices["region"]["only2"]["metrics"]["roc_auc_ovr"] is None  # one class: no AUC
    table = metrics.per_class(y, pred, [0, 1, 2])
    assert set(table) == {"0", "1", "2"} and sum(v["support"] for v in table.values()) == 200
    assert metrics.confusion(y, pred)["labels"] == [0, 1, 2]


def test_monitoring_realised_multiclass_metrics_match_evaluation(credit_cfg):
    """A labelled production day of a multiclass model scores like the holdout (labels compared as text)."""
    y, proba, pred = _three_classes(n=120)
    predictions = pd.DataFrame({"application_id": np.arange(120), "prediction": pred})
    for i in range(3):
        predictions[f"proba_{i}"] = proba[:, i]
    labels = pd.DataFrame({"application_id": np.arange(120), "default": y.astype(float)})
    day = monitoring.day_performance(credit_cfg, "2026-01-06", predictions, labels)
    assert day.source == "realised" and day.metrics.pop("n") == 120
    assert day.metrics == pytest.approx(metrics.multiclass_metrics(y, pred, proba, classes=[0, 1, 2]))
    unlabelled = monitoring.day_performance(credit_cfg, "2026-01-07", predictions, None)
    assert unlabelled.source == "unavailable" and unlabelled.metrics["estimate"] == "not estimated"
