"""Performance of scored days: realised where labels arrived, CBPE-estimated elsewhere.

Metrics come from :mod:`mlops.metrics` (one positive-class rule for evaluation and
monitoring), so the realised values compare like for like with the holdout baseline
(``VersionManifest.holdout_metrics``). With a ``fairness:`` section and the sensitive columns
of the scored days (``sensitive``, see :func:`mlops.monitoring.fairness.read_sensitive`), the
labelled days also get realised per-group metrics and disparities (``PerformanceReport.fairness``),
computed by :func:`mlops.fairness_metrics.group_fairness` exactly as evaluation computes them
(multiclass: per-group accuracy and macro averages, labels compared as text).

A multiclass model's predictions carry one ``proba_<class>`` column per class: labelled days
get the multiclass metrics (:func:`mlops.metrics.multiclass_metrics`); CBPE is binary, so
unlabelled days are marked :data:`NOT_ESTIMATED` instead of estimated. Summary lines show
:data:`SHOWN_METRICS` of a binary or regression model, :data:`MULTICLASS_SHOWN_METRICS` of a
multiclass one (:func:`shown_metrics`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops import fairness_metrics, metrics, models
from mlops._util import fmt_value as _fmt
from mlops.artifacts.nightly import SHOWN_METRICS, DayPerformance, PerformanceReport
from mlops.artifacts.scoring import proba_columns
from mlops.errors import ConfigError
from mlops.profiling import as_float_array

if TYPE_CHECKING:
    import pandas as pd

    from mlops.config import DatasetConfig

#: ``{day: (predictions, labels or None)}``.
ScoredDays = Mapping[str, tuple["pd.DataFrame", "pd.DataFrame | None"]]
#: The estimate of an unlabelled day (and of the pooled unlabelled days) of a multiclass model.
NOT_ESTIMATED = {
    "estimate": "not estimated",
    "reason": "CBPE applies to binary classifiers; this model has more than two classes (realised metrics only)",
}


#: Metrics of a multiclass model shown in summaries, in this order (binary and regression: ``SHOWN_METRICS``).
MULTICLASS_SHOWN_METRICS = ("roc_auc_ovr", "accuracy", "f1_macro", "log_loss")


def shown_metrics(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The metric names a summary shows for ``values``: the multiclass ones when it holds multiclass metrics."""
    multiclass = any(m in values for m in ("roc_auc_ovr", "f1_macro"))
    return MULTICLASS_SHOWN_METRICS if multiclass else SHOWN_METRICS


def is_multiclass_predictions(predictions: pd.DataFrame) -> bool:
    """True when the predictions carry more than two ``proba_<class>`` columns (a multiclass model)."""
    return metrics.is_multiclass(list(proba_columns(predictions.columns)))


def _multiclass_realised(cfg: DatasetConfig, joined: pd.DataFrame) -> dict[str, Any]:
    """``n`` plus :func:`mlops.metrics.multiclass_metrics`, labels compared as text with the column classes."""
    columns = proba_columns(joined.columns)
    truth = np.asarray(models.target_array(joined, cfg)).astype(str)
    pred = joined["prediction"].to_numpy().astype(str) if "prediction" in joined.columns else None
    proba = joined[list(columns.values())].to_numpy(dtype="float64", na_value=np.nan)
    return {"n": int(truth.size), **metrics.multiclass_metrics(truth, pred, proba, classes=list(columns))}


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
    if cfg.is_classifier and is_multiclass_predictions(joined):
        return _multiclass_realised(cfg, joined)
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
    if cfg.is_classifier and len(predictions) and is_multiclass_predictions(predictions):
        return DayPerformance(day, "unavailable", int(len(predictions)), dict(NOT_ESTIMATED), versions)
    if cfg.is_classifier and len(predictions):
        score, pred = _score_columns(predictions, cfg)
        if pred is not None and positive_class is None:
            positive_class = metrics.resolve_positive_class(cfg, metrics.labels_of(pred))
        m = metrics.estimate_classification_performance(score, pred, positive_class=positive_class)
        return DayPerformance(day, "estimated", int(m["n"]), json_safe(m), versions)
    return DayPerformance(day, "unavailable", int(len(predictions)), {}, versions)


def _positive_class(cfg: DatasetConfig, scored_days: ScoredDays) -> Any:
    """One positive class for every day of a performance window (config, else all labels seen)."""
    if not cfg.is_classifier or any(is_multiclass_predictions(p) for p, _ in scored_days.values()):
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


def _with_sensitive(
    cfg: DatasetConfig, scored_days: ScoredDays, sensitive: Mapping[str, pd.DataFrame | None] | None
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame | None]]:
    """The scored days with each day's sensitive columns joined onto its predictions by id."""
    out = dict(scored_days)
    for day, frame in (sensitive or {}).items():
        if day not in out or frame is None:
            continue
        preds, labels = out[day]
        cols = [c for c in frame.columns if c != cfg.id_column and c not in preds.columns]
        if cols:
            preds = preds.merge(frame[[cfg.id_column, *cols]], on=cfg.id_column, how="left")
        out[day] = (preds, labels)
    return out


def group_performance(
    cfg: DatasetConfig, labelled: list[tuple[pd.DataFrame, pd.DataFrame | None]], positive_class: Any
) -> dict[str, dict[str, Any]]:
    """Realised per-group metrics and disparities of the labelled days, pooled (``{}`` without any).

    Sensitive columns the predictions do not carry are left out.
    """
    import pandas as pd

    if cfg.fairness is None or not labelled:
        return {}
    preds = pd.concat([p for p, _ in labelled], ignore_index=True)
    labels = pd.concat([lab for _, lab in labelled if lab is not None], ignore_index=True)
    present = [c for c in cfg.fairness.sensitive_features if c in preds.columns]
    if not present or "prediction" not in preds.columns:
        return {}
    joined = preds.merge(labels[[cfg.id_column, cfg.target]], on=cfg.id_column, how="inner")
    joined = joined[joined[cfg.target].notna()]
    if not len(joined):
        return {}
    y_true, y_pred, classes = joined[cfg.target].to_numpy(), joined["prediction"].to_numpy(), None
    if cfg.is_classifier and is_multiclass_predictions(joined):  # labels as text, like _multiclass_realised
        classes = list(proba_columns(joined.columns))
        y_true = np.asarray(models.target_array(joined, cfg)).astype(str)
        y_pred = y_pred.astype(str)
    out = fairness_metrics.group_fairness(
        cfg, joined, y_true, y_pred, positive_class=positive_class, classes=classes, features=present
    )
    return json_safe(out)


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
    sensitive: Mapping[str, pd.DataFrame | None] | None = None,
) -> PerformanceReport:
    """Per-day and pooled performance: realised where labels arrived, CBPE estimates elsewhere.

    ``scored_days`` maps ``"YYYY-MM-DD"`` to ``(predictions, labels or None)``; ``baseline``
    is the model's holdout metrics. ``sensitive`` maps days to frames of the id and the
    sensitive columns (the batch's); with them the labelled days get per-group metrics.
    """
    scored_days = _with_sensitive(cfg, scored_days, sensitive)
    positive = _positive_class(cfg, scored_days)
    days = [
        day_performance(cfg, d, p, lab, positive_class=positive)
        for d, (p, lab) in sorted(scored_days.items())
    ]
    labelled = [scored_days[d.day] for d in days if d.source == "realised"]
    unlabelled = [scored_days[d.day] for d in days if d.source != "realised"]
    multiclass = any(is_multiclass_predictions(p) for p, _ in scored_days.values())
    estimated = _pooled(cfg, unlabelled, "estimated", positive) if cfg.is_classifier else {}
    if multiclass:
        estimated = dict(NOT_ESTIMATED) if unlabelled else {}
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
        estimated=estimated,
        performance_uri=performance_uri,
        fairness=group_performance(cfg, labelled, positive),
    )


def metric_change(
    report: PerformanceReport, metric: str, source: str = "realised"
) -> tuple[float | None, float | None, float | None]:
    """``(baseline, current, drop)``; drop > 0 means worse (sign flipped for lower-is-better metrics)."""
    from mlops.metric_names import LOWER_IS_BETTER

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
        names = shown_metrics(d.metrics)
        shown = {k: v for k, v in d.metrics.items() if k in names}
        values = " ".join(f"{k}={'n/a' if v is None else f'{v:.4g}'}" for k, v in shown.items())
        note = f" ({d.metrics['estimate']}: CBPE is binary only)" if d.metrics.get("estimate") else ""
        lines.append(f"{d.day}: {d.source} n={d.n} {values}".rstrip() + note)
    for metric in sorted(report.baseline):
        for source in ("realised", "estimated"):
            base, cur, drop = metric_change(report, metric, source)
            if drop is not None:
                lines.append(f"{metric} ({source}): {cur:.4f} vs holdout {base:.4f} (drop {drop:+.4f})")
    if report.estimated.get("estimate") == NOT_ESTIMATED["estimate"]:
        lines.append(f"estimated: NOT ESTIMATED ({report.estimated.get('reason')})")
    for feature, result in report.fairness.items():
        values = " ".join(f"{k}={_fmt(v)}" for k, v in result["disparities"].items())
        groups = len(result["groups"]) - len(result["excluded"])
        lines.append(f"fairness [{feature}] realised, {groups} groups: {values}")
    lines.append(f"SUMMARY: {report.summary}")
    return lines
