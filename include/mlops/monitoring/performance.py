"""Performance of scored days: realised where labels arrived, CBPE-estimated elsewhere.

Metrics come from :mod:`mlops.metrics` (one positive-class rule for evaluation and
monitoring), so the realised values compare like for like with the holdout baseline
(``VersionManifest.holdout_metrics``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops import metrics
from mlops.artifacts.nightly import SHOWN_METRICS, DayPerformance, PerformanceReport
from mlops.errors import ConfigError
from mlops.profiling import as_float_array

if TYPE_CHECKING:
    import pandas as pd

    from mlops.config import DatasetConfig

#: ``{day: (predictions, labels or None)}``.
ScoredDays = Mapping[str, tuple["pd.DataFrame", "pd.DataFrame | None"]]


def json_safe(obj: Any) -> Any:
    """A JSON-safe copy: numpy scalars unwrapped, NaN/inf as None, keys as str."""
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def numeric_only(values: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of a metrics dict (drops the confusion matrix, None and the like)."""
    return {
        k: float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


def _score_columns(predictions: pd.DataFrame, cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """``(score, predicted class or None)``: probability + class for classifiers, value for regressors."""
    if cfg.is_classifier:
        if "probability" not in predictions.columns:
            raise ConfigError(
                f"Predictions of classifier {cfg.name!r} have no 'probability' column (columns "
                f"{list(predictions.columns)}); re-score with the scoring DAG."
            )
        pred = predictions["prediction"].to_numpy() if "prediction" in predictions.columns else None
        return as_float_array(predictions["probability"]), pred
    return as_float_array(predictions["prediction"]), None


def _realised(cfg: DatasetConfig, joined: pd.DataFrame, positive_class: Any) -> dict[str, Any]:
    """``n`` (and ``positive_rate``) plus the task's metrics from :mod:`mlops.metrics`."""
    y_true = joined[cfg.target].to_numpy()
    score, pred = _score_columns(joined, cfg)
    if not cfg.is_classifier:
        return {"n": int(y_true.size), **metrics.regression_metrics(y_true, score)}
    if positive_class is None:
        positive_class = metrics.resolve_positive_class(cfg, metrics.labels_of(y_true, pred))
    return {
        "n": int(y_true.size),
        "positive_rate": metrics.positive_rate(y_true, positive_class=positive_class),
        **metrics.classification_metrics(y_true, pred, score, positive_class=positive_class),
    }


def day_performance(
    cfg: DatasetConfig,
    day: str,
    predictions: pd.DataFrame,
    labels: pd.DataFrame | None,
    *,
    positive_class: Any = None,
) -> DayPerformance:
    """Realised metrics when ``labels`` are given (joined on the id column), else a CBPE estimate.

    ``positive_class`` defaults to :func:`mlops.metrics.resolve_positive_class` over this day's labels.
    """
    versions = (
        sorted(str(v) for v in predictions["model_version"].dropna().unique())
        if "model_version" in predictions.columns
        else []
    )
    if labels is not None:
        joined = predictions.merge(labels[[cfg.id_column, cfg.target]], on=cfg.id_column, how="inner")
        joined = joined[joined[cfg.target].notna()]
        if len(joined):
            m = _realised(cfg, joined, positive_class)
            return DayPerformance(day, "realised", int(len(joined)), json_safe(m), versions)
    if cfg.is_classifier and len(predictions):
        score, pred = _score_columns(predictions, cfg)
        if pred is not None and positive_class is None:
            positive_class = metrics.resolve_positive_class(cfg, metrics.labels_of(pred))
        m = metrics.estimate_classification_performance(score, pred, positive_class=positive_class)
        return DayPerformance(day, "estimated", int(m["n"]), json_safe(m), versions)
    return DayPerformance(day, "unavailable", int(len(predictions)), {}, versions)


def _positive_class(cfg: DatasetConfig, scored_days: ScoredDays) -> Any:
    """One positive class for every day of a performance window (config, else all labels seen)."""
    if not cfg.is_classifier:
        return None
    seen: list[Any] = []
    for predictions, labels in scored_days.values():
        if "prediction" in predictions.columns:
            seen += metrics.labels_of(predictions["prediction"])
        if labels is not None and cfg.target in labels.columns:
            seen += metrics.labels_of(labels[cfg.target])
    return metrics.resolve_positive_class(cfg, seen)


def _pooled(
    cfg: DatasetConfig,
    frames: list[tuple[pd.DataFrame, pd.DataFrame | None]],
    source: str,
    positive_class: Any,
) -> dict[str, Any]:
    import pandas as pd

    if not frames:
        return {}
    preds = pd.concat([p for p, _ in frames], ignore_index=True)
    labels = None
    if source == "realised":
        labels = pd.concat([lab for _, lab in frames if lab is not None], ignore_index=True)
    out = day_performance(cfg, "pooled", preds, labels, positive_class=positive_class)
    return {**out.metrics, "n": out.n, "days": len(frames)} if out.source == source else {}


def compute_performance(
    cfg: DatasetConfig,
    day: str,
    scored_days: ScoredDays,
    *,
    baseline: Mapping[str, float] | None = None,
    model_version: str | None = None,
    run_id: str | None = None,
    window_days: int | None = None,
    performance_uri: str | None = None,
) -> PerformanceReport:
    """Per-day and pooled performance: realised where labels arrived, CBPE estimates elsewhere.

    ``scored_days`` maps ``"YYYY-MM-DD"`` to ``(predictions, labels or None)``; ``baseline``
    is the model's holdout metrics.
    """
    positive = _positive_class(cfg, scored_days)
    days = [
        day_performance(cfg, d, p, lab, positive_class=positive)
        for d, (p, lab) in sorted(scored_days.items())
    ]
    labelled = [scored_days[d.day] for d in days if d.source == "realised"]
    unlabelled = [scored_days[d.day] for d in days if d.source != "realised"]
    return PerformanceReport(
        dataset=cfg.name,
        day=str(day),
        task=cfg.task,
        model_version=model_version,
        run_id=run_id,
        window_days=int(window_days if window_days is not None else len(scored_days)),
        baseline=numeric_only(baseline or {}),
        days=days,
        realised=_pooled(cfg, labelled, "realised", positive),
        estimated=_pooled(cfg, unlabelled, "estimated", positive) if cfg.is_classifier else {},
        performance_uri=performance_uri,
    )


def metric_change(
    report: PerformanceReport, metric: str, source: str = "realised"
) -> tuple[float | None, float | None, float | None]:
    """``(baseline, current, drop)``; drop > 0 means worse (sign flipped for lower-is-better metrics)."""
    from mlops.config import LOWER_IS_BETTER

    base = report.baseline.get(metric)
    current = (report.realised if source == "realised" else report.estimated).get(metric)
    if base is None or current is None:
        return base, current, None
    drop = (current - base) if metric in LOWER_IS_BETTER else (base - current)
    return base, current, float(drop)


def summary_lines(report: PerformanceReport) -> list[str]:
    """One log line per day, one per metric change against the holdout, then the summary."""
    lines = []
    for d in report.days:
        shown = {k: v for k, v in d.metrics.items() if k in SHOWN_METRICS}
        values = " ".join(f"{k}={'n/a' if v is None else f'{v:.4g}'}" for k, v in shown.items())
        lines.append(f"{d.day}: {d.source} n={d.n} {values}".rstrip())
    for metric in sorted(report.baseline):
        for source in ("realised", "estimated"):
            base, cur, drop = metric_change(report, metric, source)
            if drop is not None:
                lines.append(f"{metric} ({source}): {cur:.4f} vs holdout {base:.4f} (drop {drop:+.4f})")
    lines.append(f"SUMMARY: {report.summary}")
    return lines
