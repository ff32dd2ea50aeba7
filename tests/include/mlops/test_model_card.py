"""The model card rendered from fixture artifacts (no S3): every section and plot is there, and the
explanations (partial dependence, sampled Shapley contributions) behave as documented."""

from __future__ import annotations

import dataclasses
import html as htmllib
import re

import numpy as np
import pytest

from mlops import artifacts as a
from mlops import training
from mlops.evaluation import explain, model_card
from mlops.evaluation.gate import decide
from mlops.models import predict
from tests.include.mlops.training_world import with_updates

CAND = "s3://mlops-test/candidates/credit/run1__abcd1234/"
DAYS = ["2026-01-01", "2026-01-02", "2026-01-03"]
SHA = "c" * 64


def _record(cfg, estimator: str) -> a.TrainingRecord:
    lineage = [
        a.LineageDay(
            day, "holdout" if day == DAYS[-1] else "train", a.batch_uri("mlops-test", cfg.name, day), f"bv{i}",
            f"{i}" * 64, 100, a.labels_uri("mlops-test", cfg.name, day), f"lv{i}", f"{i + 3}" * 64, 100,
            a.validation_uri(a.batch_uri("mlops-test", cfg.name, day)), 98,
        )
        for i, day in enumerate(DAYS)
    ]  # fmt: skip
    rates = (0.21, 0.19) if cfg.is_classifier else (None, None)
    cv = {
        "scoring": "roc_auc",
        "best_score": 0.81,
        "candidates": [{"params": {"learning_rate": 0.08}, "mean": 0.81, "std": 0.01, "rank": 1}],
    }
    return a.TrainingRecord(
        dataset=cfg.name, task=cfg.task, candidate_uri=CAND, created_at="2026-01-04T02:00:00Z",
        run={"run_id": "run1"}, request={"day": "2026-01-04", "window_days": 4, "estimator": estimator,
                                         "search": "config"},
        window=a.TrainingWindow("2026-01-01", "2026-01-04", 4, DAYS, [d.batch_uri for d in lineage],
                                {"2026-01-04": "labels not arrived yet"}),
        excluded_days={"2026-01-04": "labels not arrived yet"},
        split=a.TrainingSplit("time", DAYS[:2], DAYS[2:], DAYS[0], DAYS[1], DAYS[2], DAYS[2], 196, 98, *rates),
        lineage=lineage, data_hash=SHA,
        model_plan=a.ModelPlan(estimator, {"max_iter": 60}, None, {"kind": "grid", "cv": 2}, 42, ["a note"]),
        estimator_params={"max_iter": 60}, best_params={"learning_rate": 0.08}, cv=cv, fit_seconds=2.5,
        feature_signature=a.FeatureSignature.of([a.FeatureColumn("age", "numeric", "float64", False)]),
        target=cfg.target, id_column=cfg.id_column, date_column=cfg.date_column,
        importances={"age": 0.05, cfg.feature_columns[1]: 0.02}, canned_rows=[], model_uri=a.model_uri(CAND),
        model_version_id="mv1", model_sha256="d" * 64, model_size=1234, config=cfg.to_dict(), config_sha256=SHA,
        libraries={"python": "3.11.9", "sklearn": "1.9.1"},
    )  # fmt: skip


def _evaluation(cfg, y_true, pred, proba) -> a.ModelEvaluation:
    from mlops.evaluation import evaluate_predictions

    rng = np.random.default_rng(3)
    column = cfg.training.slice_columns[0]
    frame = {column: rng.choice(["a", "b"], size=len(y_true))}
    for col in cfg.training.slice_columns[1:]:
        frame[col] = "x"
    import pandas as pd

    return evaluate_predictions(cfg, pd.DataFrame(frame), y_true, pred, proba)


@pytest.fixture(scope="module")
def credit_model(credit_cfg, credit_day):
    """A logistic regression on one generated day, and that day joined with its labels."""
    features, labels = credit_day
    frame = features.merge(labels, on="application_id")
    cfg = with_updates(credit_cfg, model={"estimator": "logistic_regression", "params": {}, "search": None})
    return training.fit_model(cfg, frame, training.plan_model(cfg)).model, frame


@pytest.fixture
def classification(credit_cfg, credit_model):
    model, frame = credit_model
    credit_cfg = with_updates(
        credit_cfg, fairness={"min_group_rows": 100}
    )  # the fixture's groups are ~150 rows
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    proba = np.clip(0.35 * y + rng.uniform(0, 0.65, 300), 0, 1)
    prod_proba = np.clip(0.2 * y + rng.uniform(0, 0.8, 300), 0, 1)
    pred, prod_pred = (proba >= 0.5).astype(int), (prod_proba >= 0.5).astype(int)
    scored = a.CandidateMetrics(
        dataset="credit", task="classification", candidate_uri=CAND, primary_metric="roc_auc",
        holdout_start=DAYS[2], holdout_end=DAYS[2], holdout_days=DAYS[2:], holdout_rows=300, data_hash=SHA,
        candidate=_evaluation(credit_cfg, y, pred, proba),
        production=_evaluation(credit_cfg, y, prod_pred, prod_proba), baseline_version="v0007",
        baseline_pointer_etag="etag7", baseline_error=None, evaluated_at="2026-01-04T02:10:00Z",
    )  # fmt: skip
    record = dataclasses.replace(
        _record(credit_cfg, "hist_gradient_boosting"), canned_rows=training.canned_rows(credit_cfg, frame)
    )
    html = model_card.render_model_card(
        credit_cfg,
        record=record,
        scored=scored,
        y_true=y,
        candidate=(pred, proba),
        production=(prod_pred, prod_proba),
        model=model,
        holdout=frame.head(400),
    )
    return credit_cfg, record, scored, html


def _images(html: str) -> list[str]:
    return re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,[A-Za-z0-9+/=]{200,}">', html)


def _headings(html: str) -> list[str]:
    return [htmllib.unescape(h) for h in re.findall(r"<h2>(.*?)</h2>", html)]


def test_classification_card_has_every_section_and_plot(classification):
    cfg, record, scored, html = classification
    assert "<title>Model card: credit hist_gradient_boosting</title>" in html
    assert "<h1>Model card: credit</h1>" in html and htmllib.escape(cfg.description) in html
    assert _headings(html) == [
        "Gate verdict",
        "Metrics vs production",
        "ROC and precision-recall curves",
        "Confusion matrix",
        "Permutation feature importance",
        "Partial dependence (top features)",
        "Feature contributions (canned rows)",
        "Slices (region, home_ownership)",
        "Fairness (region)",
        "Data window",
        "Training config",
    ]
    assert _images(html) == [
        "metrics: candidate vs production",
        "ROC and precision-recall curves",
        "confusion matrix",
        "permutation importance",
        "partial dependence",
        "fairness: group metrics by region",
    ]
    # explanations: the top features by importance; one contributions row per canned row
    assert "as each feature sweeps its range" in html and "P(default = 1)" in html
    contributions = re.findall(
        r'<tr><td>(\d)</td><td class="num">[0-9.]+</td><td class="num">[0-9.]+</td>', html
    )
    assert contributions == ["1", "2", "3", "4", "5"]
    # fairness: each disparity against its limit, each group candidate beside production
    fair = scored.candidate.fairness["region"]
    eod = f"{fair['disparities']['equalized_odds_difference']:.4f}"
    assert f'<td>equalized_odds_difference</td><td class="num">{eod}</td>' in html and "&lt;= 0.35" in html
    assert "<td>recall_group_min</td>" in html and "&gt;= 0.1" in html
    for group, values in fair["groups"].items():
        assert f'<tr><td>{group}</td><td class="num">{values["n"]}</td><td>yes</td>' in html
    assert "<th>selection_rate candidate</th><th>selection_rate production</th>" in html
    # metrics: one row per metric, candidate and production side by side, the floors shown
    assert "<td>roc_auc (primary)</td>" in html and "&gt;= 0.7" in html and "&lt;= 0.6" in html
    assert "compared with production v0007 on the same holdout (300 rows)" in html
    cand_auc = f"{scored.candidate.metrics['roc_auc']:.4f}"
    assert f'<td class="num">{cand_auc}</td>' in html
    # slices: every value of the first slice column
    for value in scored.candidate.slices["region"]:
        assert f"<td>region</td><td>{value}</td>" in html
    # data window and lineage
    assert "2026-01-01 .. 2026-01-04 (4 days)" in html and SHA in html
    assert "2026-01-04: labels not arrived yet" in html and "0.2100 / 0.1900" in html
    assert all(f"<td>{day}</td>" in html for day in DAYS) and "bv0" in html
    # config
    assert "Dataset config include/configs/credit.yaml (as used)" in html
    assert "python 3.11.9, sklearn 1.9.1" in html and "{&quot;learning_rate&quot;: 0.08}" in html
    assert "The gate has not run yet." in html


def test_the_gate_stamps_its_rules_table_into_the_card(classification):
    cfg, record, scored, html = classification
    behaviour = [a.GateRule("reloads_from_bytes", "behaviour", None, None, None, "loads", "pass", "ok")]
    blessing = decide(
        cfg, candidate=scored.candidate, production=scored.production, behaviour=behaviour,
        candidate_uri=CAND, model_sha256=record.model_sha256, baseline_version="v0007",
        baseline_pointer_etag="etag7", data_hash=SHA,
    )  # fmt: skip
    stamped = model_card.stamp_verdict(html, blessing)
    assert "The gate has not run yet." not in stamped
    assert htmllib.escape(blessing.verdict_line()) in stamped
    header = "".join(
        f"<th>{h}</th>" for h in ("rule", "kind", "candidate", "production", "threshold", "verdict")
    )
    assert header in stamped
    for rule in blessing.rules:
        assert f"<td>{htmllib.escape(rule.rule)}</td><td>{rule.kind}</td>" in stamped
        assert f'<td class="{rule.verdict}">{rule.verdict.upper()}</td>' in stamped
    assert "baseline pointer ETag etag7" in stamped
    # stamping again replaces the verdict instead of adding a second one
    again = model_card.stamp_verdict(stamped, blessing)
    assert again == stamped and again.count('<div class="verdict ') == 1
    assert model_card.stamp_verdict("<html>no markers</html>", blessing) is None


def test_regression_card_plots_residuals(diabetes_cfg):
    rng = np.random.default_rng(1)
    y = rng.normal(150, 50, 200)
    pred = y + rng.normal(0, 20, 200)
    scored = a.CandidateMetrics(
        dataset="diabetes", task="regression", candidate_uri=CAND, primary_metric="rmse",
        holdout_start=DAYS[2], holdout_end=DAYS[2], holdout_days=DAYS[2:], holdout_rows=200, data_hash=SHA,
        candidate=_evaluation(diabetes_cfg, y, pred, None), production=None, baseline_version=None,
        baseline_pointer_etag=None, baseline_error=None, evaluated_at="2026-01-04T02:10:00Z",
    )  # fmt: skip
    html = model_card.render_model_card(
        diabetes_cfg, record=_record(diabetes_cfg, "ridge"), scored=scored, y_true=y, candidate=(pred, None)
    )
    assert _images(html) == ["metrics: candidate vs production", "residual plots", "permutation importance"]
    assert "Residuals" in _headings(html) and "Confusion matrix" not in _headings(html)
    assert not any(h.startswith("Fairness") for h in _headings(html))  # no fairness: section for diabetes
    assert "Not computed: needs the model, the holdout and recorded importances." in html
    assert "no production comparison (no production model yet)" in html
    assert "positive rate" not in html  # regression records no positive rate


def test_browser_url_points_at_the_endpoint_or_the_console():
    uri = "s3://mlops-test/candidates/credit/run 1/model_card.html"
    assert model_card.browser_url(uri, "http://localhost:9000/") == (
        "http://localhost:9000/mlops-test/candidates/credit/run%201/model_card.html"
    )
    assert model_card.browser_url(uri).startswith(
        "https://s3.console.aws.amazon.com/s3/object/mlops-test?prefix="
    )
    assert model_card.browser_url("/tmp/card.html") == "/tmp/card.html"


# ---------------------------------------------------------------- explanations
def test_sampled_shapley_contributions_add_up_and_ignore_what_does_not_change(credit_cfg, credit_model):
    model, frame = credit_model
    rows, background = frame.head(3), frame.tail(200).copy()
    background["region"] = rows["region"].iloc[0]  # the first row's region never differs from the background
    explained = explain.local_contributions(model, credit_cfg, rows, background, seed=1)
    _, proba = predict(model, rows, credit_cfg)
    assert [e.output for e in explained] == pytest.approx(list(proba))
    for e in explained:  # efficiency: contributions sum to the score minus the background mean, exactly
        assert sum(e.contributions.values()) == pytest.approx(e.output - e.expected, abs=1e-9)
        assert set(e.contributions) == set(credit_cfg.feature_columns) and len(e.top(5)) == 5
    assert explained[0].contributions["region"] == 0.0
    assert explain.local_contributions(model, credit_cfg, rows, background, seed=1) == explained  # seeded


def test_partial_dependence_follows_the_model(credit_cfg, credit_model):
    model, frame = credit_model
    curves = explain.partial_dependence_curves(model, credit_cfg, frame, ["credit_score", "home_ownership"])
    score, home = curves
    assert score.grid == sorted(score.grid) and len(score.grid) == explain.PD_GRID
    assert score.average[0] > score.average[-1]  # a higher credit score, a lower probability of default
    assert home.categorical and home.grid == ["mortgage", "other", "own", "rent"]
    assert all(0 <= v <= 1 for v in score.average + home.average)
    assert explain.top_features({"age": 0.1, "not_a_feature": 0.5, "region": 0.2}, credit_cfg) == [
        "region",
        "age",
    ]
