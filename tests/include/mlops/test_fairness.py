"""Fairness: fairlearn metrics per sensitive group, the fairness gate rules, the config section.

The end-to-end test trains an unbiased candidate (blessed, its fairness rules pass), then a
candidate trained on labels where most positives of one region were flipped: it is NOT
BLESSED and the verdict names the fairness rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops import artifacts, evaluation, fairness_metrics, storage, training
from mlops.config import parse_dataset_config
from mlops.errors import ConfigError
from mlops.evaluation import FAIL, PASS
from tests.include.mlops.training_world import END, fast, seed_validated, with_updates

LIMITS = ("equalized_odds_difference", "demographic_parity_ratio", "recall_group_min")


# ---------------------------------------------------------------- fairness_metrics.group_fairness (fairlearn)
def _toy() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Group a: 8 rows, half predicted positive; group b: 8 rows, a quarter; group c: 2 rows (too small)."""
    frame = pd.DataFrame({"region": ["a"] * 8 + ["b"] * 8 + ["c", None]})
    y_true = np.array([1, 1, 1, 1, 0, 0, 0, 0] + [1, 1, 1, 1, 0, 0, 0, 0] + [1, 0])
    y_pred = np.array([1, 1, 1, 0, 1, 0, 0, 0] + [1, 0, 0, 0, 1, 0, 0, 0] + [1, 1])
    return frame, y_true, y_pred


def _toy_cfg(credit_cfg, **fairness):
    spec = {"sensitive_features": ["region"], "min_group_rows": 3, **fairness}
    return with_updates(credit_cfg, fairness=spec)


def test_group_metrics_and_disparities_come_from_fairlearn(credit_cfg):
    frame, y_true, y_pred = _toy()
    limits = {"recall_group_min": 0.5, "selection_rate_ratio": 0.8, "false_positive_rate_group_max": 0.3}
    result = fairness_metrics.group_fairness(_toy_cfg(credit_cfg, limits=limits), frame, y_true, y_pred)[
        "region"
    ]
    # group metrics: the configured ones plus those a limit needs (false_positive_rate)
    assert result["groups"]["a"] == {
        "n": 8,
        "selection_rate": 0.5,
        "recall": 0.75,
        "false_positive_rate": 0.25,
    }
    assert result["groups"]["b"] == {
        "n": 8,
        "selection_rate": 0.25,
        "recall": 0.25,
        "false_positive_rate": 0.25,
    }
    assert result["groups"]["<missing>"]["n"] == 1 and result["excluded"] == ["<missing>", "c"]
    d = result["disparities"]
    assert d["demographic_parity_difference"] == pytest.approx(0.25)  # 0.50 - 0.25, groups a and b only
    assert d["selection_rate_difference"] == pytest.approx(0.25)
    assert d["selection_rate_ratio"] == pytest.approx(0.5)
    assert d["recall_difference"] == pytest.approx(0.5)  # TPR 0.75 vs 0.25
    assert d["equalized_odds_difference"] == pytest.approx(0.5)  # max(TPR gap 0.5, FPR gap 0.0)
    assert d["recall_group_min"] == pytest.approx(0.25)
    assert d["false_positive_rate_group_max"] == pytest.approx(0.25)


def test_positive_class_rule_and_too_few_groups(credit_cfg):
    frame, y_true, y_pred = _toy()
    cfg = _toy_cfg(credit_cfg)
    as_text = fairness_metrics.group_fairness(
        cfg,
        frame,
        np.where(y_true == 1, "bad", "good"),
        np.where(y_pred == 1, "bad", "good"),
        positive_class="bad",
    )
    assert as_text == fairness_metrics.group_fairness(cfg, frame, y_true, y_pred)
    alone = fairness_metrics.group_fairness(_toy_cfg(credit_cfg, min_group_rows=9), frame, y_true, y_pred)[
        "region"
    ]
    assert set(alone["disparities"].values()) == {None} and len(alone["excluded"]) == 4


def test_regression_gets_group_errors_and_refuses_classification_measures(diabetes_cfg):
    frame = pd.DataFrame({"sex": ["1"] * 50 + ["2"] * 50})
    y = np.arange(100, dtype=float)
    pred = y + np.r_[np.full(50, 2.0), np.full(50, 6.0)]
    cfg = with_updates(
        diabetes_cfg,
        fairness={
            "sensitive_features": ["sex"],
            "group_metrics": ["mae"],
            "limits": {"mae_group_max": 5.0},
            "min_group_rows": 20,
        },
    )
    result = fairness_metrics.group_fairness(cfg, frame, y, pred)["sex"]
    assert result["groups"]["1"]["mae"] == pytest.approx(2.0)
    assert result["groups"]["2"]["mae"] == pytest.approx(6.0)
    assert result["disparities"] == {
        "mae_difference": pytest.approx(4.0),
        "mae_group_max": pytest.approx(6.0),
    }
    wrong = {
        **cfg.to_dict(),
        "fairness": {"sensitive_features": ["sex"], "limits": {"equalized_odds_difference": 0.1}},
    }
    with pytest.raises(ConfigError, match=r"do not apply to a regression dataset; use the group metrics"):
        parse_dataset_config(wrong, "include/configs/diabetes.yaml")  # refused at load: regression is known
    default = with_updates(cfg, fairness={"sensitive_features": ["sex"], "min_group_rows": 20})
    assert set(fairness_metrics.group_fairness(default, frame, y, pred)["sex"]["groups"]["1"]) == {"n", "mae"}


def test_a_sensitive_feature_missing_from_the_data_names_the_fix(credit_cfg):
    frame, y_true, y_pred = _toy()
    cfg = _toy_cfg(credit_cfg, sensitive_features=["gender"])
    with pytest.raises(
        ConfigError, match=r"Sensitive feature 'gender' .* add it to the batches or remove it"
    ):
        fairness_metrics.group_fairness(cfg, frame, y_true, y_pred)


@pytest.mark.parametrize(
    ("fairness", "message"),
    [
        ({"sensitive_features": []}, "fairness.sensitive_features"),
        ({"sensitive_features": ["region"], "limits": {"parity": 0.1}}, "fairness.limits 'parity' is not a disparity"),
        ({"sensitive_features": ["region"], "limits": {"selection_rate_ratio": 1.5}}, r"ratio floor and must be in \[0, 1\]"),
        ({"sensitive_features": ["region"], "group_metrics": ["auc"]}, r"group_metrics \['auc'\] are not group metrics"),
        ({"sensitive_features": ["region"], "margin": 0.1}, "unknown key 'fairness.margin'"),
    ],
)  # fmt: skip
def test_config_section_is_validated(credit_cfg, fairness, message):
    raw = {**credit_cfg.to_dict(), "fairness": fairness}
    with pytest.raises(ConfigError, match=message):
        parse_dataset_config(raw, "include/configs/credit.yaml")


def test_credit_config_declares_region_as_sensitive(credit_cfg):
    spec = credit_cfg.fairness
    assert spec.sensitive_features == ("region",) and set(spec.limits) == set(LIMITS)
    assert credit_cfg.to_dict()["fairness"]["limits"]["equalized_odds_difference"] == 0.35


# ---------------------------------------------------------------- the gate, end to end
def _flip_positives(client, bucket: str, cfg, days: list[str], group: str, share: float) -> int:
    """Relabel ``share`` of the positives of one region as negatives on ``days`` (new object versions)."""
    rng = np.random.default_rng(7)
    flipped = 0
    for day in days:
        batch = storage.read_table(client, artifacts.batch_uri(bucket, cfg.name, day))
        uri = artifacts.labels_uri(bucket, cfg.name, day)
        labels = storage.read_table(client, uri)
        in_group = labels[cfg.id_column].isin(batch.loc[batch["region"] == group, cfg.id_column])
        flip = in_group & (labels[cfg.target] == 1) & (rng.random(len(labels)) < share)
        labels.loc[flip, cfg.target] = 0
        storage.write_parquet(client, uri, labels)
        flipped += int(flip.sum())
    return flipped


def _fairness_rules(blessing) -> dict[str, object]:
    return {r.rule: r for r in blessing.rules if r.kind == "fairness"}


def test_biased_candidate_is_not_blessed_and_the_verdict_names_the_fairness_rule(s3, bucket, credit_cfg):
    from mlops.registry import ModelRegistry

    cfg = fast(credit_cfg)
    seed_validated(s3, bucket, cfg, rows=400)
    fair = training.train_candidate(s3, cfg, bucket=bucket, end=END, run_id="fair", window_days=12)
    evaluation.evaluate_candidate(s3, cfg, fair.candidate_prefix, bucket=bucket)
    blessed = evaluation.gate_candidate(s3, cfg, fair.candidate_prefix)
    rules = _fairness_rules(blessed)
    assert blessed.blessed, evaluation.rules_table(blessed.rules)
    for name in LIMITS:  # the same rules the biased candidate fails below
        assert rules[f"fairness {name}[region]"].verdict == PASS
    assert rules["fairness equalized_odds_difference[region]"].threshold == "<= 0.35"
    registry = ModelRegistry(s3, bucket, "credit")
    version = registry.publish(candidate_uri=fair.candidate_prefix, run={"run_id": "fair"}).version
    registry.promote_blessed(version, reason="unbiased first model", actor="test")

    record = artifacts.read_artifact(
        s3, artifacts.training_uri(fair.candidate_prefix), artifacts.TrainingRecord
    )
    train_days = [d.day for d in record.lineage_of("train")]
    assert (
        _flip_positives(s3, bucket, cfg, train_days, "south", share=0.9) > 20
    )  # the holdout keeps the truth
    biased = training.train_candidate(s3, cfg, bucket=bucket, end=END, run_id="biased", window_days=12)
    result = evaluation.evaluate_candidate(s3, cfg, biased.candidate_prefix, bucket=bucket)
    assert result.baseline_version == version
    blessing = evaluation.gate_candidate(s3, cfg, biased.candidate_prefix)
    rules = _fairness_rules(blessing)

    assert not blessing.blessed
    south = artifacts.read_artifact(s3, result.metrics_uri, artifacts.CandidateMetrics).candidate.fairness
    assert south["region"]["groups"]["south"]["recall"] < 0.1  # the flipped group's defaults go unseen
    for name in ("recall_group_min", "demographic_parity_ratio"):
        assert rules[f"fairness {name}[region]"].verdict == FAIL
        assert rules[f"fairness {name}[region] vs production"].verdict == FAIL
        assert f"fairness {name}[region]" in blessing.verdict_line()
    assert blessing.verdict_line().startswith(f"VERDICT: NOT BLESSED candidate={biased.candidate_prefix}")
    stored = artifacts.read_artifact(s3, artifacts.blessing_uri(biased.candidate_prefix), artifacts.Blessing)
    assert "fairness recall_group_min[region]" in stored.failed
    table = evaluation.rules_table(blessing.rules)
    line = next(x for x in table.splitlines() if x.startswith("fairness recall_group_min[region] "))
    assert ">= 0.1" in line and line.rstrip().endswith("FAIL")
    card = storage.get_bytes(s3, result.model_card_uri).decode()
    assert "<td>fairness recall_group_min[region]</td><td>fairness</td>" in card


def test_files_written_before_fairness_read_as_without_it():
    """``fairness`` was added without a schema bump: an older metrics.json / performance.json reads as ``{}``."""
    from mlops.artifacts.nightly import PerformanceReport
    from tests.include.mlops.test_artifacts_nightly import performance

    older = artifacts.ModelEvaluation({"roc_auc": 0.8}, {}, None, 10).to_dict()
    del older["fairness"]
    assert artifacts.ModelEvaluation.from_dict(older).fairness == {}
    report = performance().to_dict()
    del report["fairness"]
    assert PerformanceReport.from_dict(report) == performance()
    with pytest.raises(artifacts.base.ArtifactSchemaError, match=r"unknown field\(s\) \['surprise'\]"):
        artifacts.ModelEvaluation.from_dict({**older, "surprise": 1})


# ---------------------------------------------------------------- multiclass (a real wine model)
def _wine_scored(n: int = 600):
    """A logistic model trained on wine; scored on fresh rows where site ``b``'s chemistry is noisy."""
    from datetime import date

    from mlops import models
    from mlops.config import load_dataset_config
    from mlops.dev import datagen

    cfg = load_dataset_config("wine")
    features, labels = datagen.generate_day(cfg, date(2026, 1, 1), 600)
    train = features.merge(labels, on=cfg.id_column)
    model = training.build_model(cfg, training.plan_model(cfg, search="none"))
    model.fit(models.feature_frame(train, cfg), models.target_array(train, cfg))
    features, labels = datagen.generate_day(cfg, date(2026, 1, 2), n)
    frame = features.merge(labels, on=cfg.id_column)
    rng = np.random.default_rng(3)
    frame["site"] = np.where(rng.random(n) < 0.5, "a", "b")
    noisy = frame["site"] == "b"
    for col in ("flavanoids", "proline", "color_intensity", "alcohol"):
        spread = frame[col].std()
        frame.loc[noisy, col] += rng.normal(0, 1.5 * spread, int(noisy.sum()))
    pred = models.predict_proba(model, frame, cfg).prediction
    return cfg, frame, models.target_array(frame, cfg), pred, model.classes_


def _wine_with(**sections):
    """include/configs/wine.yaml with some sections' keys replaced (from the YAML: ``to_dict`` turns the
    integer class_shares keys into text)."""
    import yaml

    from mlops.config import config_path

    raw = yaml.safe_load(config_path("wine").read_text())
    for section, updates in sections.items():
        raw[section] = {**(raw.get(section) or {}), **updates}
    return parse_dataset_config(raw, "include/configs/wine.yaml")


def test_multiclass_fairness_is_per_group_accuracy_and_macro_averages():
    from sklearn import metrics as skm

    _, frame, y, pred, classes = _wine_scored()
    limits = {"accuracy_group_min": 0.9, "recall_macro_difference": 0.05, "f1_macro_ratio": 0.9}
    cfg = _wine_with(fairness={"sensitive_features": ["site"], "limits": limits, "min_group_rows": 50})
    result = fairness_metrics.group_fairness(cfg, frame, y, pred, classes=classes)["site"]
    expected = {}
    for group in ("a", "b"):
        mask = (frame["site"] == group).to_numpy()
        expected[group] = {
            "accuracy": skm.accuracy_score(y[mask], pred[mask]),
            "recall_macro": skm.recall_score(y[mask], pred[mask], average="macro"),
            "f1_macro": skm.f1_score(y[mask], pred[mask], average="macro"),
        }
        assert result["groups"][group] == pytest.approx({"n": int(mask.sum()), **expected[group]})
    assert expected["b"]["accuracy"] < expected["a"]["accuracy"] - 0.1  # the noise costs site b accuracy
    d = result["disparities"]
    assert set(d) == {"accuracy_difference", "recall_macro_difference", *limits}  # no binary measures
    assert d["accuracy_group_min"] == pytest.approx(expected["b"]["accuracy"])
    assert d["recall_macro_difference"] == pytest.approx(
        expected["a"]["recall_macro"] - expected["b"]["recall_macro"]
    )
    assert d["f1_macro_ratio"] == pytest.approx(expected["b"]["f1_macro"] / expected["a"]["f1_macro"])
    # the gate reads them: site b's accuracy is under the floor
    candidate = artifacts.ModelEvaluation({"accuracy": 0.9}, {}, None, len(frame), fairness={"site": result})
    rules = {r.rule: r for r in evaluation.fairness_rules(cfg, candidate, None)}
    assert rules["fairness accuracy_group_min[site]"].verdict == FAIL
    assert rules["fairness recall_macro_difference[site]"].verdict == FAIL
    assert rules["fairness accuracy_group_min[site] vs production"].verdict == "skip"


def test_binary_measures_are_refused_for_a_multiclass_model_with_one_message():
    """A config that does not declare its classes loads; the model's three classes refuse the binary measures."""
    _, frame, y, pred, classes = _wine_scored(n=200)
    fairness = {"sensitive_features": ["site"], "limits": {"demographic_parity_ratio": 0.8}}
    cfg = _wine_with(fairness=fairness, validation={"target_values": None, "class_shares": {}})
    with pytest.raises(ConfigError) as err:
        fairness_metrics.group_fairness(cfg, frame, y, pred, classes=classes)
    assert str(err.value) == (
        "fairness ['demographic_parity_ratio'] do not apply to a multiclass dataset (the model has 3 classes); "
        "use the group metrics ['accuracy', 'recall_macro', 'precision_macro', 'f1_macro'] (with _difference, "
        "_ratio, _group_min or _group_max); the fairlearn measures ['demographic_parity_difference', "
        "'demographic_parity_ratio', 'equalized_odds_difference', 'equalized_odds_ratio', "
        "'equal_opportunity_difference', 'equal_opportunity_ratio'] need a positive class (binary targets only); "
        "fix fairness: in include/configs/wine.yaml."
    )
