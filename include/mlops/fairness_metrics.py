"""Fairness metrics per sensitive group (fairlearn), for evaluation and monitoring alike.

:func:`group_fairness` computes, per ``fairness.sensitive_features`` column, the per-group metrics
and the disparities between groups from fairlearn's :class:`~fairlearn.metrics.MetricFrame`
(``difference``, ``ratio``, ``group_min``, ``group_max``) and its named measures. Evaluation
gates the disparities (:mod:`mlops.evaluation.fairness`), monitoring alerts on them.

What applies depends on the target (:func:`mlops.metric_names.target_kind`):

- **binary**: the group metrics of :data:`mlops.metric_names.FAIRNESS_GROUP_METRICS` ``["binary"]``
  (selection rate, recall, precision, accuracy, false positive/negative rates) on predicted
  classes with the positive class of :func:`mlops.metrics.resolve_positive_class`, and the
  fairlearn measures (demographic parity, equalized odds, equal opportunity);
- **multiclass** (a model with more than two classes): no positive class, so per-group
  ``accuracy`` and macro-averaged ``recall_macro``, ``precision_macro`` and ``f1_macro`` (over
  the classes present in the group), and their disparities; the fairlearn measures are binary
  only and refused with one :class:`~mlops.errors.ConfigError`;
- **regression**: per-group ``mae``, ``rmse`` and ``mean_prediction``.

Every function takes plain arrays; none reads S3.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops._util import finite_float as _f
from mlops.config import DatasetConfig, config_label
from mlops.errors import ConfigError
from mlops.metric_names import FAIRNESS_MEASURES, split_disparity
from mlops.metrics import (
    MISSING_SLICE,
    as_float_array,
    is_multiclass,
    is_positive,
    labels_of,
    resolve_positive_class,
)

if TYPE_CHECKING:
    import pandas as pd


def disparity_is_floor(name: str) -> bool:
    """True when lower is worse (``*_ratio``, ``*_group_min``): the limit is a floor, else a ceiling."""
    return name.endswith(("_ratio", "_group_min"))


def fairness_kind(cfg: DatasetConfig, classes: Any = None) -> str:
    """``regression``, ``multiclass`` (``classes``, the model's ``classes_``, has more than two labels) or ``binary``."""
    if not cfg.is_classifier:
        return "regression"
    return "multiclass" if classes is not None and is_multiclass(classes) else "binary"


def fairness_disparities(cfg: DatasetConfig, kind: str = "binary") -> list[str]:
    """The disparities computed per sensitive feature: a default set, the limits, the alert rules' metrics.

    Defaults: demographic parity and equalized odds differences (binary classification), and the
    between-group difference of every group metric (``fairness.group_metrics``, else the defaults
    of the target ``kind``).
    """
    spec = cfg.fairness
    if spec is None:
        return []
    names = ["demographic_parity_difference", "equalized_odds_difference"] if kind == "binary" else []
    names += [f"{m}_difference" for m in spec.group_metrics_for(kind)]
    alerts = [str(r.metric) for r in cfg.monitoring.alert_rules if r.kind == "fairness_disparity"]
    return list(dict.fromkeys([*names, *spec.limits, *alerts]))


def _group_metric_functions(kind: str) -> dict[str, Any]:
    from functools import partial

    from fairlearn import metrics as flm
    from sklearn import metrics as skm

    if kind == "binary":
        return {
            "selection_rate": flm.selection_rate,
            "recall": partial(skm.recall_score, zero_division=np.nan),
            "precision": partial(skm.precision_score, zero_division=np.nan),
            "accuracy": skm.accuracy_score,
            "false_positive_rate": flm.false_positive_rate,
            "false_negative_rate": flm.false_negative_rate,
        }
    if kind == "multiclass":  # macro averages over the classes present in the group (nan ones left out)
        return {
            "accuracy": skm.accuracy_score,
            "recall_macro": partial(skm.recall_score, average="macro", zero_division=np.nan),
            "precision_macro": partial(skm.precision_score, average="macro", zero_division=np.nan),
            "f1_macro": partial(skm.f1_score, average="macro", zero_division=np.nan),
        }
    return {
        "mae": skm.mean_absolute_error,
        "rmse": skm.root_mean_squared_error,
        "mean_prediction": flm.mean_prediction,
    }


def _fairness_plan(cfg: DatasetConfig, kind: str, why: str = "") -> tuple[list[str], list[str]]:
    """``(group metrics, disparities)`` for the target ``kind``; a name of another kind is a ConfigError."""
    problems = cfg.fairness_problems(kind, f" ({why})" if why else "")
    if problems:
        raise ConfigError(f"{problems[0]}; fix fairness: in {config_label(cfg.name)}.")
    disparities = fairness_disparities(cfg, kind)
    needed = [split_disparity(d)[0] for d in disparities if d not in FAIRNESS_MEASURES]  # type: ignore[index]
    spec = cfg.fairness
    group_metrics = list(dict.fromkeys([*spec.group_metrics_for(kind), *needed]))  # type: ignore[union-attr]
    return group_metrics, disparities


def sensitive_groups(cfg: DatasetConfig, frame: pd.DataFrame, column: str) -> np.ndarray:
    """The group of every row for one sensitive column, as strings (missing values: ``"<missing>"``)."""
    if column not in frame.columns:
        raise ConfigError(
            f"Sensitive feature {column!r} (fairness.sensitive_features in {config_label(cfg.name)}) "
            f"is not a column of the data (columns: {list(frame.columns)[:25]}); add it to the batches or "
            "remove it from the config."
        )
    values = frame[column].astype("object")
    return values.where(values.notna(), MISSING_SLICE).astype(str).to_numpy()


def group_fairness(
    cfg: DatasetConfig,
    frame: pd.DataFrame,
    y_true: Any,
    y_pred: Any,
    *,
    positive_class: Any = None,
    classes: Any = None,
    features: Iterable[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per-group metrics and disparities per ``fairness.sensitive_features`` column (fairlearn).

    Returns ``{column: {"groups": {value: {"n", <group metric>...}}, "excluded": [values],
    "disparities": {name: value or None}}}``, ``{}`` without a ``fairness:`` section. Every
    number comes from fairlearn's :class:`~fairlearn.metrics.MetricFrame` (``difference``,
    ``ratio``, ``group_min``, ``group_max``) or its named measures (demographic parity,
    equalized odds, equal opportunity; binary only), on predicted classes (``y_pred``). A binary
    target uses the positive class of :func:`~mlops.metrics.resolve_positive_class`; a multiclass
    model (pass ``classes``, its ``classes_``) compares the labels themselves. Groups with fewer
    than ``fairness.min_group_rows`` rows are listed but ``excluded`` from the disparities; a
    disparity needs two groups. ``features`` restricts the sensitive columns (default: all configured).

    Raises
    ------
    ConfigError
        A configured group metric, limit or fairness alert metric does not apply to the target
        (e.g. ``equalized_odds_difference`` for a multiclass model); a sensitive column is missing.
    """
    if cfg.fairness is None:
        return {}
    kind = fairness_kind(cfg, classes)
    why = f"the model has {len(labels_of(classes))} classes" if kind == "multiclass" else ""
    group_metrics, disparities = _fairness_plan(cfg, kind, why)
    if kind == "binary":
        if positive_class is None:
            positive_class = resolve_positive_class(cfg, labels_of(y_true, y_pred))
        truth = is_positive(y_true, positive_class).astype("int64")
        pred = is_positive(y_pred, positive_class).astype("int64")
    elif kind == "multiclass":
        truth, pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    else:
        truth, pred = as_float_array(y_true), as_float_array(y_pred)
    functions = {m: f for m, f in _group_metric_functions(kind).items() if m in group_metrics}
    out: dict[str, dict[str, Any]] = {}
    for column in cfg.fairness.sensitive_features if features is None else features:
        groups = sensitive_groups(cfg, frame, column)
        out[column] = _one_feature(cfg, truth, pred, groups, functions, disparities)
    return out


def _one_feature(
    cfg: DatasetConfig,
    truth: np.ndarray,
    pred: np.ndarray,
    groups: np.ndarray,
    functions: dict[str, Any],
    disparities: list[str],
) -> dict[str, Any]:
    from fairlearn import metrics as flm

    names, counts = np.unique(groups, return_counts=True)
    table = flm.MetricFrame(metrics=functions, y_true=truth, y_pred=pred, sensitive_features=groups).by_group
    by_group = {
        str(g): {"n": int(n), **{m: _f(table.loc[g, m]) for m in functions}}
        for g, n in zip(names, counts, strict=True)
    }
    min_rows = cfg.fairness.min_group_rows  # type: ignore[union-attr]
    kept = {str(g) for g, n in zip(names, counts, strict=True) if n >= min_rows}
    mask = np.isin(groups, list(kept))
    values: dict[str, float | None] = dict.fromkeys(disparities)
    if len(kept) >= 2:
        kept_frame = flm.MetricFrame(
            metrics=functions, y_true=truth[mask], y_pred=pred[mask], sensitive_features=groups[mask]
        )
        for name in disparities:
            values[name] = _disparity(name, kept_frame, truth[mask], pred[mask], groups[mask])
    return {"groups": by_group, "excluded": sorted(set(by_group) - kept), "disparities": values}


def _disparity(
    name: str, frame: Any, truth: np.ndarray, pred: np.ndarray, groups: np.ndarray
) -> float | None:
    """A fairlearn measure by name, or ``frame.<aggregate>()[<group metric>]`` for ``<metric>_<aggregate>``."""
    from fairlearn import metrics as flm

    base, agg = split_disparity(name) or (name, "")
    if not agg:
        return _f(getattr(flm, name)(truth, pred, sensitive_features=groups))
    return _f(getattr(frame, agg)()[base])
