"""Evaluation: candidate and production scored on the same holdout -> ``metrics.json`` and the model card.

:func:`evaluate_candidate` reads the candidate's :class:`~mlops.artifacts.TrainingRecord`,
re-reads its holdout by S3 VersionId (checked against the hashes recorded at training),
scores the candidate and the production model (resolved through :mod:`mlops.models`) with
:mod:`mlops.metrics` overall and per slice, and writes :class:`~mlops.artifacts.CandidateMetrics`
and ``model_card.html`` beside the candidate.

Before scoring, the config's metric names (``gate.primary_metric``, ``gate.min_*``/``max_*``,
``metric_drop`` alert rules) and fairness names are checked against the model's classes
(:func:`mlops.config.check_names_against_classes`): ``roc_auc`` for a three-class model, or
``f1_macro`` for a binary one, is one :class:`~mlops.errors.ConfigError` naming the metrics, the
classes and the names allowed. Config load refuses the same already when the config declares
its classes (``validation.target_values``); this catches configs that do not.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mlops import artifacts, fairness_metrics, metrics, models, serialization, storage
from mlops._util import fmt_value as _fmt
from mlops.artifacts import Blessing, CandidateMetrics, LineageDay, ModelEvaluation, TrainingRecord
from mlops.config import DatasetConfig, check_names_against_classes
from mlops.errors import InputReadError, MLOpsError
from mlops.evaluation.fairness import fairness_lines
from mlops.evaluation.model_card import render_model_card
from mlops.models import compute_threads, predict_proba, target_array

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- the holdout
def read_split(
    client, cfg: DatasetConfig, lineage: Sequence[LineageDay], split: str = "holdout"
) -> pd.DataFrame:
    """Re-read one split of a training lineage (:attr:`TrainingRecord.lineage`) exactly as trained:
    the same object versions, checked against their SHA-256.

    The rows are joined and ordered as training joined them (labels by id, or the batch's own
    target column when the day's labels are the batch itself; then date, id, or id alone
    without a date column).

    Raises
    ------
    InputReadError
        If an object changed since training (hash mismatch) or is gone, or the split has no days.
    """
    import pandas as pd

    frames = []
    for day in (d for d in lineage if d.split == split):
        batch = _read_pinned(client, day.batch_uri, day.batch_version_id, day.batch_sha256)
        joined = batch
        if day.labels_uri != day.batch_uri:  # labels in their own file (not labels: {in_features: true})
            labels = _read_pinned(client, day.labels_uri, day.labels_version_id, day.labels_sha256)
            joined = batch.merge(labels[[cfg.id_column, cfg.target]], on=cfg.id_column, how="inner")
        joined = joined[joined[cfg.target].notna()]
        order = [cfg.date_column, cfg.id_column] if cfg.date_column else [cfg.id_column]
        frames.append(joined.sort_values(order, kind="mergesort"))
    if not frames:
        days = [d.day for d in lineage]
        raise InputReadError(f"The training lineage has no '{split}' days (its days: {days}).")
    return pd.concat(frames, ignore_index=True)


def _read_pinned(client, uri: str, version_id: str | None, sha256: str) -> pd.DataFrame:
    data, _ = storage.get_object(client, uri, version_id)
    found = storage.sha256_bytes(data)
    if found != sha256:
        raise InputReadError(
            f"{uri} (version {version_id}) has SHA-256 {found[:12]}..., but training recorded "
            f"{sha256[:12]}...; the data changed since training. Retrain the candidate."
        )
    return storage.read_table_bytes(data, uri)


# ---------------------------------------------------------------- metrics
def evaluate_predictions(
    cfg: DatasetConfig,
    frame: pd.DataFrame,
    y_true,
    prediction,
    probability=None,
    *,
    positive_class: Any = None,
    classes: Any = None,
) -> ModelEvaluation:
    """Overall metrics, slice metrics, (classification) the confusion matrix and, with a ``fairness:``
    section, per-group metrics and disparities per sensitive feature (see :mod:`mlops.metrics` and
    :mod:`mlops.fairness_metrics`; a multiclass model gets per-group accuracy and macro averages).

    ``positive_class`` defaults to :func:`mlops.metrics.resolve_positive_class` over the labels seen.
    A multiclass model passes ``classes`` (its ``classes_``) and ``probability`` as the
    ``predict_proba`` matrix: the multiclass metrics apply and there is no positive class.
    """
    multiclass = classes is not None and metrics.is_multiclass(classes)
    if cfg.is_classifier and positive_class is None and not multiclass:
        positive_class = metrics.resolve_positive_class(cfg, metrics.labels_of(y_true, prediction))
    return ModelEvaluation(
        metrics=metrics.compute_metrics(
            cfg, y_true, prediction, probability, positive_class=positive_class, classes=classes
        ),
        slices=metrics.slice_metrics(
            cfg, frame, y_true, prediction, probability, positive_class=positive_class, classes=classes
        ),
        confusion_matrix=metrics.confusion(y_true, prediction) if cfg.is_classifier else None,
        n_rows=len(frame),
        fairness=fairness_metrics.group_fairness(
            cfg, frame, y_true, prediction, positive_class=positive_class, classes=classes
        ),
    )


@dataclass(frozen=True)
class _Scored:
    """One model's predictions on the holdout and their evaluation (``probability``: the positive
    class's for a binary model, the ``predict_proba`` matrix for a multiclass one)."""

    prediction: Any
    probability: Any
    evaluation: ModelEvaluation


@dataclass(frozen=True)
class Baseline:
    """The production model as evaluation found it (all None: there is none yet)."""

    model: Any = None
    version: str | None = None
    pointer_etag: str | None = None
    error: str | None = None


def production_baseline(client, cfg: DatasetConfig, bucket: str) -> Baseline:
    """The production model through :func:`mlops.models.resolve`; a broken one is reported, not fatal."""
    state = models.read_pointer(client, bucket, cfg.name)
    if state is None:
        uri = artifacts.alias_uri(bucket, cfg.name, artifacts.PRODUCTION)
        log.info("production model: none yet (%s) -> floors alone decide", uri)
        return Baseline()
    version, etag = state.pointer.version, state.etag
    try:
        resolved = models.resolve(client, bucket, cfg.name, artifacts.PRODUCTION)
        if resolved.pointer is not None:
            version, etag = resolved.version, resolved.pointer.etag
        model = models.load_model(client, resolved.manifest)
    except MLOpsError as err:
        log.warning("production model %s could not be loaded: %s", version, err)
        return Baseline(None, version, etag, f"production {version} could not be loaded: {err}")
    log.info("production model: %s %s (pointer ETag %s)", cfg.name, version, etag)
    return Baseline(model, version, etag)


def _score(model, cfg: DatasetConfig, holdout, y_true, positive: Any) -> _Scored:
    scores = predict_proba(model, holdout, cfg)
    if scores.multiclass:
        evaluation = evaluate_predictions(
            cfg, holdout, y_true, scores.prediction, scores.proba, classes=scores.classes
        )
        return _Scored(scores.prediction, scores.proba, evaluation)
    pred, proba = scores.prediction, scores.score
    return _Scored(
        pred, proba, evaluate_predictions(cfg, holdout, y_true, pred, proba, positive_class=positive)
    )


# ---------------------------------------------------------------- the step
@dataclass(frozen=True)
class EvaluationResult:
    """What the evaluate step hands on (small, JSON-safe)."""

    dataset: str
    candidate_prefix: str
    metrics_uri: str
    model_card_uri: str
    primary_metric: str
    candidate: dict[str, float | None]
    production: dict[str, float | None] | None
    baseline_version: str | None
    baseline_pointer_etag: str | None
    baseline_error: str | None
    holdout_rows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        m = self.primary_metric
        prod = "none" if self.production is None else _fmt(self.production.get(m))
        lines = [
            f"holdout {self.holdout_rows} rows; {m}: candidate {_fmt(self.candidate.get(m))}, "
            f"production ({self.baseline_version or 'none'}) {prod}"
        ]
        for name, value in self.candidate.items():
            other = None if self.production is None else self.production.get(name)
            lines.append(f"metric {name}: candidate {_fmt(value)} production {_fmt(other)}")
        return lines


def _prefix(candidate_prefix: str) -> str:
    return candidate_prefix if candidate_prefix.endswith("/") else candidate_prefix + "/"


def evaluate_candidate(client, cfg: DatasetConfig, candidate_prefix: str, *, bucket: str) -> EvaluationResult:
    """Score candidate and production on the candidate's holdout; write ``metrics.json`` and the model card."""
    prefix = _prefix(candidate_prefix)
    record = artifacts.read_artifact(client, artifacts.training_uri(prefix), TrainingRecord)
    holdout = read_split(client, cfg, record.lineage, "holdout")
    y_true = target_array(holdout, cfg)
    log.info(
        "holdout %s..%s: %d rows (re-read by VersionId, hashes match)",
        record.split.holdout_start,
        record.split.holdout_end,
        len(holdout),
    )
    with compute_threads():
        model_uri = artifacts.model_uri(prefix)
        model = serialization.load_model(
            storage.get_bytes(client, model_uri), expected_sha256=record.model_sha256, where=model_uri
        )
        positive = None
        if cfg.is_classifier:  # gate, alert and fairness names fit the model's classes, before any scoring
            check_names_against_classes(cfg, model.classes_)
        if cfg.is_classifier and not metrics.is_multiclass(model.classes_):
            positive = metrics.resolve_positive_class(cfg, metrics.labels_of(model.classes_, y_true))
        cand = _score(model, cfg, holdout, y_true, positive)
        baseline, prod = _score_production(client, cfg, bucket, holdout, y_true, positive)
    for name, value in cand.evaluation.metrics.items():
        other = _fmt(prod.evaluation.metrics.get(name)) if prod else "-"
        log.info("metric %s: candidate %s production %s", name, _fmt(value), other)
    for line in fairness_lines(cfg, cand.evaluation, prod.evaluation if prod else None):
        log.info("%s", line)
    scored = _candidate_metrics(cfg, prefix, record, cand, prod, baseline)
    metrics_uri = artifacts.metrics_uri(prefix)
    artifacts.write_artifact(client, metrics_uri, scored)
    log.info("wrote %s", metrics_uri)
    with compute_threads():
        html = render_model_card(
            cfg,
            record=record,
            scored=scored,
            y_true=y_true,
            candidate=(cand.prediction, cand.probability),
            production=None if prod is None else (prod.prediction, prod.probability),
            model=model,
            holdout=holdout,
        )
    card_uri = storage.put_bytes(
        client, artifacts.model_card_uri(prefix), html.encode(), content_type="text/html"
    ).uri
    log.info("wrote model card %s (%d KiB)", card_uri, len(html) // 1024)
    return EvaluationResult(
        dataset=cfg.name,
        candidate_prefix=prefix,
        metrics_uri=metrics_uri,
        model_card_uri=card_uri,
        primary_metric=cfg.gate.primary_metric,
        candidate=scored.candidate.metrics,
        production=scored.production.metrics if scored.production else None,
        baseline_version=scored.baseline_version,
        baseline_pointer_etag=scored.baseline_pointer_etag,
        baseline_error=scored.baseline_error,
        holdout_rows=len(holdout),
    )


def _score_production(client, cfg: DatasetConfig, bucket: str, holdout, y_true, positive):
    """``(baseline, scored or None)``: a champion that cannot score the holdout is reported, not fatal."""
    baseline = production_baseline(client, cfg, bucket)
    if baseline.model is None:
        return baseline, None
    try:
        return baseline, _score(baseline.model, cfg, holdout, y_true, positive)
    except Exception as err:  # a champion that cannot score today's data is reported, not fatal
        error = f"production {baseline.version} could not score the holdout: {type(err).__name__}: {err}"
        log.warning("%s", error)
        return Baseline(None, baseline.version, baseline.pointer_etag, error), None


def _candidate_metrics(
    cfg: DatasetConfig,
    prefix: str,
    record: TrainingRecord,
    cand: _Scored,
    prod: _Scored | None,
    baseline: Baseline,
) -> CandidateMetrics:
    split = record.split
    return CandidateMetrics(
        dataset=cfg.name,
        task=cfg.task,
        candidate_uri=prefix,
        primary_metric=cfg.gate.primary_metric,
        holdout_start=split.holdout_start,
        holdout_end=split.holdout_end,
        holdout_days=list(split.holdout_days),
        holdout_rows=split.holdout_rows,
        data_hash=record.data_hash,
        candidate=cand.evaluation,
        production=prod.evaluation if prod else None,
        baseline_version=baseline.version,
        baseline_pointer_etag=baseline.pointer_etag,
        baseline_error=baseline.error,
        evaluated_at=artifacts.utc_now_iso(),
    )


# ---------------------------------------------------------------- summary
def training_summary(client, candidate_prefix: str) -> dict[str, Any]:
    """One small dict per candidate for reports and the demo: window, split, metrics, each rule's verdict.

    Reads ``training.json`` and, when present, ``metrics.json`` and ``blessing.json``.
    """
    prefix = _prefix(candidate_prefix)
    record = artifacts.read_artifact(client, artifacts.training_uri(prefix), TrainingRecord)
    window = record.window
    out: dict[str, Any] = {
        "dataset": record.dataset,
        "candidate_prefix": prefix,
        "estimator": record.estimator,
        "window": {"start": window.start, "end": window.end, "window_days": window.window_days},
        "split": {k: v for k, v in record.split.to_dict().items() if not k.endswith("_days")},
        "best_params": record.best_params,
        "data_hash": record.data_hash,
        "model_sha256": record.model_sha256,
        "model_card_uri": artifacts.model_card_uri(prefix),
    }
    if storage.exists(client, artifacts.metrics_uri(prefix)):
        scored = artifacts.read_artifact(client, artifacts.metrics_uri(prefix), CandidateMetrics)
        out["primary_metric"] = scored.primary_metric
        out["candidate_metrics"] = scored.candidate.metrics
        out["production_metrics"] = scored.production.metrics if scored.production else None
        out["baseline_version"] = scored.baseline_version
    if storage.exists(client, artifacts.blessing_uri(prefix)):
        blessing = artifacts.read_artifact(client, artifacts.blessing_uri(prefix), Blessing)
        out["blessed"] = blessing.blessed
        out["verdict"] = blessing.verdict_line()
        keys = ("rule", "candidate", "production", "threshold", "verdict", "passed")
        out["rules"] = [{k: r.to_dict()[k] for k in keys} for r in blessing.rules]
    return out
