"""The model card rendered from fixture artifacts (no S3, no training): every section and plot is there."""

from __future__ import annotations

import html as htmllib
import re

import numpy as np
import pytest

from mlops import artifacts as a
from mlops.evaluation import model_card
from mlops.evaluation.gate import decide

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


@pytest.fixture
def classification(credit_cfg):
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
    record = _record(credit_cfg, "hist_gradient_boosting")
    html = model_card.render_model_card(
        credit_cfg,
        record=record,
        scored=scored,
        y_true=y,
        candidate=(pred, proba),
        production=(prod_pred, prod_proba),
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
        "Slices (region, home_ownership)",
        "Data window",
        "Training config",
    ]
    assert _images(html) == [
        "metrics: candidate vs production",
        "ROC and precision-recall curves",
        "confusion matrix",
        "permutation importance",
    ]
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
