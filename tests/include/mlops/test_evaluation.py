"""Evaluation: the gate rules (floors, production, slices, fairness), behavioural checks, blessing records
and model cards."""

from __future__ import annotations

import re

import pytest

from mlops import artifacts, evaluation, models, serialization, storage, training
from mlops.artifacts import Blessing, CandidateMetrics, ModelEvaluation
from mlops.errors import InputReadError
from mlops.evaluation import FAIL, PASS, SKIP, GateRule
from tests.include.mlops.training_world import END, fast, seed_validated, with_updates


# ---------------------------------------------------------------- the gate, rule by rule
def _fairness(eod: float = 0.10, dp_ratio: float | None = 0.8, recall_min: float = 0.3) -> dict:
    """A ``ModelEvaluation.fairness`` for region as :func:`mlops.fairness_metrics.group_fairness` writes it."""
    groups = {g: {"n": 500, "selection_rate": 0.1, "recall": recall_min + 0.1} for g in ("north", "south")}
    groups["other"] = {"n": 12, "selection_rate": 0.0, "recall": None}
    disparities = {
        "demographic_parity_difference": 0.02,
        "equalized_odds_difference": eod,
        "selection_rate_difference": 0.02,
        "recall_difference": eod,
        "demographic_parity_ratio": dp_ratio,
        "recall_group_min": recall_min,
    }
    return {"region": {"groups": groups, "excluded": ["other"], "disparities": disparities}}


def _evaluation(
    auc: float,
    recall: float = 0.4,
    log_loss: float = 0.35,
    slices: dict | None = None,
    fairness: dict | None = None,
) -> ModelEvaluation:
    slices = slices or {"north": auc, "south": auc}
    return ModelEvaluation(
        metrics={
            "accuracy": 0.85,
            "precision": 0.6,
            "recall": recall,
            "f1": 0.5,
            "roc_auc": auc,
            "log_loss": log_loss,
        },
        slices={
            "region": {v: {"n": 500, "metrics": {"roc_auc": a}} for v, a in slices.items()},
            "home_ownership": {"rent": {"n": 40, "metrics": {"roc_auc": 0.1}}},  # too small: never gated
        },
        confusion_matrix=None,
        n_rows=1040,
        fairness=_fairness() if fairness is None else fairness,
    )


BEHAVES = [GateRule("reloads_from_bytes", "behaviour", None, None, None, "loads", PASS)]
MISBEHAVES = [GateRule("optional_missing_scores", "behaviour", None, None, None, "1 finite", FAIL, "NaN")]


def _decide(cfg, candidate, production, behaviour=BEHAVES):
    return evaluation.decide(
        cfg,
        candidate=candidate,
        production=production,
        behaviour=behaviour,
        candidate_uri="s3://b/c/",
        model_sha256="ab" * 32,
        baseline_version="v0001" if production else None,
        baseline_pointer_etag='"etag-1"' if production else None,
        data_hash="cd" * 32,
    )


@pytest.mark.parametrize(
    ("candidate", "behaviour", "failed"),
    [
        (_evaluation(0.83), BEHAVES, []),
        (_evaluation(0.83, recall=0.1), BEHAVES, ["min_recall"]),  # rule 1 alone
        (_evaluation(0.80), BEHAVES, ["roc_auc_vs_production"]),  # rule 2 alone (slices within 0.05)
        (_evaluation(0.83, slices={"north": 0.83, "south": 0.74}), BEHAVES, ["slice region=south"]),  # rule 3
        (  # rule 4, the comparison alone: within the 0.35 limit but 0.20 worse than production (margin 0.05)
            _evaluation(0.83, fairness=_fairness(eod=0.30)),
            BEHAVES,
            ["fairness equalized_odds_difference[region] vs production"],
        ),
        (_evaluation(0.83), MISBEHAVES, ["optional_missing_scores"]),  # behaviour alone
    ],
)
def test_each_rule_fails_on_its_own(credit_cfg, candidate, behaviour, failed):
    blessing = _decide(credit_cfg, candidate, _evaluation(0.83), behaviour)
    assert blessing.failed == failed
    assert blessing.blessed is (not failed) and blessing.publish is (not failed)
    small = next(r for r in blessing.rules if r.rule == "slice home_ownership=rent")
    assert small.verdict == SKIP and "gate.min_slice_rows" in small.detail


def test_fairness_limits_and_the_comparison_with_production(credit_cfg):
    # a limit alone: production is as unfair (within the margin), the candidate still breaks the floor
    weak_prod = _evaluation(0.83, fairness=_fairness(recall_min=0.06))
    blessing = _decide(credit_cfg, _evaluation(0.83, fairness=_fairness(recall_min=0.05)), weak_prod)
    assert blessing.failed == ["fairness recall_group_min[region]"]
    rule = next(r for r in blessing.rules if r.rule == "fairness recall_group_min[region]")
    assert (rule.kind, rule.candidate, rule.production, rule.threshold) == ("fairness", 0.05, 0.06, ">= 0.1")
    assert rule.detail == "2 groups with >= 200 rows; not gated (too few rows): other"
    assert blessing.verdict_line().endswith("failed=[fairness recall_group_min[region]]")
    # a ceiling: at the limit passes, above fails; the comparison direction follows the limit
    cand, prod = (
        _evaluation(0.83, fairness=_fairness(eod=0.35)),
        _evaluation(0.83, fairness=_fairness(eod=0.33)),
    )
    at_limit = _decide(credit_cfg, cand, prod)
    assert at_limit.blessed, at_limit.failed
    rules = {r.rule: r for r in at_limit.rules}
    vs_prod = rules["fairness equalized_odds_difference[region] vs production"]
    assert vs_prod.threshold == "<= prod + 0.05 = 0.3800" and vs_prod.detail == "delta +0.0200"
    assert (
        rules["fairness demographic_parity_ratio[region] vs production"].threshold
        == ">= prod - 0.05 = 0.7500"
    )
    above = _decide(credit_cfg, _evaluation(0.83, fairness=_fairness(eod=0.36)), prod)
    assert above.failed == ["fairness equalized_odds_difference[region]"]
    # an undefined disparity is skipped with the reason; no production: the limits decide
    undefined = _decide(credit_cfg, _evaluation(0.83, fairness=_fairness(dp_ratio=None)), None)
    assert undefined.blessed
    skipped = {r.rule: r.detail for r in undefined.rules if r.verdict == SKIP and r.kind == "fairness"}
    assert skipped["fairness demographic_parity_ratio[region]"].startswith("undefined on this holdout")
    assert skipped["fairness equalized_odds_difference[region] vs production"] == (
        "no production model yet: limits decide"
    )
    # a sensitive feature the evaluation did not record fails: evaluate again
    missing = _decide(credit_cfg, _evaluation(0.83, fairness={}), None)
    assert "fairness equalized_odds_difference[region]" in missing.failed
    assert "evaluate the candidate again" in next(r.detail for r in missing.rules if r.verdict == FAIL)
    assert missing.thresholds["fairness.equalized_odds_difference"] == 0.35
    assert missing.thresholds["fairness.sensitive_features"] == ["region"]


def test_primary_margin_is_inclusive(credit_cfg):
    assert _decide(credit_cfg, _evaluation(0.82), _evaluation(0.83)).blessed  # exactly the 0.01 margin
    assert not _decide(credit_cfg, _evaluation(0.8199), _evaluation(0.83)).blessed


def test_without_production_the_floors_alone_decide(credit_cfg):
    weak = _evaluation(0.60)  # would lose to any production model, but there is none
    blessing = _decide(credit_cfg, _evaluation(0.83, slices={"north": 0.1}), None)
    assert blessing.blessed and blessing.baseline_version is None
    skipped = {r.rule: r.detail for r in blessing.rules if r.verdict == SKIP}
    assert skipped["roc_auc_vs_production"] == "no production model yet: floors decide"
    assert skipped["slices"] == "no production model yet: floors decide"
    not_blessed = _decide(credit_cfg, weak, None)
    assert not_blessed.failed == ["min_roc_auc"]


def test_lower_is_better_metrics_compare_the_other_way(diabetes_cfg):
    def reg(rmse):
        return ModelEvaluation(
            metrics={"rmse": rmse, "r2": 0.5, "mse": rmse**2, "mae": 40.0, "explained_variance": 0.5},
            slices={"sex": {"1": {"n": 300, "metrics": {"rmse": rmse}}}},
            confusion_matrix=None,
            n_rows=300,
        )

    assert _decide(diabetes_cfg, reg(56.0), reg(55.0)).blessed  # within max_primary_regression 2.0
    assert _decide(diabetes_cfg, reg(58.0), reg(55.0)).failed == ["rmse_vs_production"]
    assert _decide(diabetes_cfg, reg(71.0), None).failed == ["max_rmse"]


def test_blessing_record_and_table(credit_cfg):
    blessing = _decide(credit_cfg, _evaluation(0.80), _evaluation(0.83))
    record = blessing.to_dict()
    assert Blessing.from_json_bytes(blessing.to_json_bytes()) == blessing
    for key in (
        "blessed",
        "candidate_uri",
        "model_sha256",
        "baseline_version",
        "baseline_pointer_etag",
        "data_hash",
        "candidate_metrics",
        "production_metrics",
        "thresholds",
        "rules",
    ):
        assert key in record
    assert record["thresholds"]["min_roc_auc"] == 0.7 and record["rules"][0]["passed"] is True
    assert blessing.verdict_line() == (
        "VERDICT: NOT BLESSED candidate=s3://b/c/ champion=v0001 failed=[roc_auc_vs_production]"
    )
    table = evaluation.rules_table(blessing.rules).splitlines()
    assert table[0].split(" | ")[0].strip() == "rule" and "threshold" in table[0]
    assert any(line.startswith("roc_auc_vs_production") and line.rstrip().endswith("FAIL") for line in table)


def test_force_publishes_only_a_model_that_behaves(credit_cfg):
    forced = evaluation.decide(
        credit_cfg,
        candidate=_evaluation(0.60),
        production=None,
        behaviour=BEHAVES,
        candidate_uri="c",
        model_sha256="x",
        baseline_version=None,
        baseline_pointer_etag=None,
        data_hash="d",
        force=True,
        force_reason="hotfix approved by risk",
        actor="alice",
    )
    assert not forced.blessed and forced.forced and forced.publish
    assert forced.to_dict()["force_reason"] == "hotfix approved by risk" and forced.actor == "alice"
    assert forced.verdict_line() == (
        "VERDICT: NOT BLESSED candidate=c champion=none failed=[min_roc_auc] FORCED: publishing anyway"
    )
    broken = _decide(credit_cfg, _evaluation(0.60), None, MISBEHAVES)
    assert not broken.publish
    blessed_anyway = _decide(credit_cfg, _evaluation(0.83), None)
    assert (
        blessed_anyway.blessed and not blessed_anyway.forced
    )  # force on a blessed candidate records nothing


# ---------------------------------------------------------------- behavioural checks
@pytest.fixture(scope="module")
def small_model(credit_cfg, credit_day):
    features, labels = credit_day
    frame = features.merge(labels, on="application_id")
    cfg = with_updates(credit_cfg, model={"estimator": "logistic_regression", "params": {}, "search": None})
    model = training.fit_model(cfg, frame, training.plan_model(cfg)).model
    return model, training.canned_rows(cfg, frame)


def test_behavioural_checks_pass_for_a_good_model(credit_cfg, small_model):
    model, rows = small_model
    data = serialization.dump_model(model)
    rules = evaluation.behavioural_checks(
        credit_cfg, data, expected_sha256=storage.sha256_bytes(data), rows=rows
    )
    assert [(r.rule, r.verdict) for r in rules] == [
        ("reloads_from_bytes", PASS),
        ("canned_rows_finite", PASS),
        ("optional_missing_scores", PASS),
        ("unseen_category_scores", PASS),
    ]


def test_behavioural_checks_catch_corrupt_bytes(credit_cfg, small_model):
    model, rows = small_model
    data = serialization.dump_model(model)
    rules = evaluation.behavioural_checks(
        credit_cfg, data[:-10], expected_sha256=storage.sha256_bytes(data), rows=rows
    )
    assert rules[0].verdict == FAIL and "Checksum mismatch" in rules[0].detail
    assert all(r.verdict == FAIL for r in rules)


def test_behavioural_checks_catch_a_model_that_cannot_take_missing_values(credit_cfg, credit_day):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features, labels = credit_day
    frame = features.merge(labels, on="application_id").dropna()
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), list(credit_cfg.features.numeric)),
            ("cat", OneHotEncoder(handle_unknown="ignore"), list(credit_cfg.features.categorical)),
        ]
    )
    model = make_pipeline(pre, LogisticRegression(max_iter=1000))
    model.fit(training.feature_frame(frame, credit_cfg), frame["default"])
    data = serialization.dump_model(model)
    rules = evaluation.behavioural_checks(
        credit_cfg,
        data,
        expected_sha256=storage.sha256_bytes(data),
        rows=training.canned_rows(credit_cfg, frame),
    )
    verdicts = {r.rule: r.verdict for r in rules}
    assert verdicts["canned_rows_finite"] == PASS
    assert verdicts["optional_missing_scores"] == FAIL


# ---------------------------------------------------------------- the steps, both tasks, against S3
def _images(html: str) -> list[str]:
    return re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', html)


@pytest.mark.parametrize("dataset", ["credit", "diabetes"])
def test_train_evaluate_gate_and_model_card(s3, bucket, dataset, credit_cfg, diabetes_cfg):
    cfg = fast(credit_cfg if dataset == "credit" else diabetes_cfg)
    seed_validated(s3, bucket, cfg, rows=300 if dataset == "credit" else 60)
    cand = training.train_candidate(s3, cfg, bucket=bucket, end=END, run_id="r1", window_days=12)
    result = evaluation.evaluate_candidate(s3, cfg, cand.candidate_prefix, bucket=bucket)
    assert result.production is None and result.baseline_version is None
    assert set(result.candidate) == (
        {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
        if dataset == "credit"
        else {"mse", "rmse", "mae", "r2", "explained_variance"}
    )
    scored = artifacts.read_artifact(s3, result.metrics_uri, CandidateMetrics)
    assert scored.candidate.slices[cfg.training.slice_columns[0]] and scored.production is None
    assert scored.candidate_uri == cand.candidate_prefix and scored.data_hash == cand.data_hash
    assert scored.holdout_rows == cand.split["holdout_rows"] == scored.candidate.n_rows
    assert scored.holdout_metrics == {k: v for k, v in result.candidate.items() if v is not None}
    html = storage.get_bytes(s3, result.model_card_uri).decode()
    expected = (
        [
            "metrics: candidate vs production",
            "ROC and precision-recall curves",
            "confusion matrix",
            "permutation importance",
            "partial dependence",
            "fairness: group metrics by region",
        ]
        if dataset == "credit"
        else [
            "metrics: candidate vs production",
            "residual plots",
            "permutation importance",
            "partial dependence",
        ]
    )
    assert _images(html) == expected
    for section in (
        "Slices",
        "Data window",
        "Training config",
        cand.data_hash,
        "Feature contributions (canned rows)",
    ):
        assert section in html
    contributions = r'<tr><td>\d</td><td class="num">[0-9.]+</td><td class="num">[0-9.]+</td><td>\w+='
    assert len(re.findall(contributions, html)) == 5  # one row per canned row, its top contributions
    if dataset == "credit":  # fairness for the sensitive feature, recorded in metrics.json and in the card
        region = scored.candidate.fairness["region"]
        assert set(region["groups"]) == {"north", "south", "east", "west", "central"}
        assert region["disparities"]["equalized_odds_difference"] is not None
        assert "<h2>Fairness (region)</h2>" in html and "<td>recall_group_min</td>" in html
    else:
        assert scored.candidate.fairness == {} and "Fairness" not in html

    blessing = evaluation.gate_candidate(s3, cfg, cand.candidate_prefix)
    assert blessing.blessed, evaluation.rules_table(blessing.rules)
    record = artifacts.read_artifact(s3, artifacts.blessing_uri(cand.candidate_prefix), Blessing)
    assert record == blessing and record.baseline_pointer_etag is None
    assert record.data_hash == cand.data_hash and record.model_sha256 == cand.model_sha256
    stamped = storage.get_bytes(s3, result.model_card_uri).decode()
    assert "VERDICT: BLESSED" in stamped and "The gate has not run yet" not in stamped
    summary = evaluation.training_summary(s3, cand.candidate_prefix)
    assert summary["blessed"] is True and summary["rules"][0]["verdict"] == PASS


def test_challenger_is_compared_with_production_and_not_published(s3, bucket, credit_cfg):
    from mlops.registry import ModelRegistry, NotBlessedError

    cfg = fast(credit_cfg)
    seed_validated(s3, bucket, cfg)
    registry = ModelRegistry(s3, bucket, "credit")
    champion = training.train_candidate(s3, cfg, bucket=bucket, end=END, run_id="r1", window_days=12)
    evaluation.evaluate_candidate(s3, cfg, champion.candidate_prefix, bucket=bucket)
    assert evaluation.gate_candidate(s3, cfg, champion.candidate_prefix).blessed
    published = registry.publish(candidate_uri=champion.candidate_prefix, run={"run_id": "r1"})
    registry.promote_blessed(published.version, reason="first model", actor="test")
    pointer = models.read_pointer(s3, bucket, "credit")

    weak = training.train_candidate(
        s3, cfg, bucket=bucket, end=END, run_id="r2", window_days=12, estimator="dummy"
    )
    result = evaluation.evaluate_candidate(s3, cfg, weak.candidate_prefix, bucket=bucket)
    assert result.baseline_version == "v0001" and result.baseline_pointer_etag == pointer.etag
    assert result.production["roc_auc"] > 0.7 and result.candidate["roc_auc"] == pytest.approx(0.5)
    blessing = evaluation.gate_candidate(s3, cfg, weak.candidate_prefix)
    assert not blessing.blessed
    assert {"min_roc_auc", "min_recall", "roc_auc_vs_production"} <= set(blessing.failed)
    with pytest.raises(NotBlessedError):
        registry.publish(candidate_uri=weak.candidate_prefix, run={"run_id": "r2"})
    assert (
        registry.versions() == ["v0001"]
        and models.read_pointer(s3, bucket, "credit").pointer.version == "v0001"
    )


# ---------------------------------------------------------------- the holdout, and a broken champion
def test_read_split_refuses_changed_data(s3, bucket, credit_cfg):
    seed_validated(s3, bucket, credit_cfg)
    plan = training.plan_window(s3, credit_cfg, bucket=bucket, end=END, window_days=12)
    data = training.load_training_data(s3, credit_cfg, plan)
    holdout = evaluation.read_split(s3, credit_cfg, data.lineage, "holdout")
    assert holdout.equals(data.holdout)  # the same rows in the same order as training joined them
    train = evaluation.read_split(s3, credit_cfg, data.lineage, "train")
    assert train.equals(data.train)
    import dataclasses

    changed = [*data.lineage[:-1], dataclasses.replace(data.lineage[-1], labels_sha256="0" * 64)]
    with pytest.raises(InputReadError, match="the data changed since training"):
        evaluation.read_split(s3, credit_cfg, changed, "holdout")
    with pytest.raises(InputReadError, match="no 'holdout' days"):
        evaluation.read_split(s3, credit_cfg, data.lineage[:2], "holdout")


def test_a_production_model_that_cannot_load_is_reported_not_fatal(s3, bucket, credit_cfg):
    """The pointer names a version whose manifest is missing: the floors decide, the reason is recorded."""
    cfg = with_updates(
        fast(credit_cfg), model={"estimator": "logistic_regression", "params": {}, "search": None}
    )
    seed_validated(s3, bucket, cfg)
    pointer = artifacts.ProductionPointer(
        dataset="credit", alias="production", version="v0003", manifest_sha256="a" * 64, previous_version=None,
        sequence=1, action="promote", actor="test", reason="a pointer to nowhere", updated_at=artifacts.utc_now_iso(),
        evaluation_id=None, request_id="test", run={"run_id": "test"},
    )  # fmt: skip
    artifacts.write_artifact(s3, artifacts.alias_uri(bucket, "credit", "production"), pointer)
    cand = training.train_candidate(s3, cfg, bucket=bucket, end=END, run_id="r1", window_days=12)
    result = evaluation.evaluate_candidate(s3, cfg, cand.candidate_prefix, bucket=bucket)
    assert result.production is None and result.baseline_version == "v0003"
    assert result.baseline_error.startswith("production v0003 could not be loaded")
    blessing = evaluation.gate_candidate(s3, cfg, cand.candidate_prefix)
    rule = next(r for r in blessing.rules if r.rule == "roc_auc_vs_production")
    assert rule.verdict == SKIP and rule.detail == result.baseline_error
