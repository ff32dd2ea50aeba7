"""Every model metric, for evaluation and monitoring alike (built on ``sklearn.metrics``).

Evaluation scores a holdout, monitoring scores production days; both call the
functions here, so a ``metric_drop`` alert compares like with like.

The positive class
------------------
Binary classification metrics (precision, recall, f1, roc_auc, log_loss) and the
``probability`` column are about one class, the *positive* class. One rule picks
it, :func:`resolve_positive_class`:

1. ``positive_class`` in the dataset config (``include/configs/<name>.yaml``),
   when set: any scalar label, e.g. ``1``, ``"bad"`` or ``true``;
2. otherwise, for boolean labels ``True``; for 0/1 labels ``1``;
3. otherwise the larger of the two labels after sorting (``"yes"`` for
   ``{"no", "yes"}``). This is also ``model.classes_[-1]``, the column the
   models' ``predict_proba`` reports as ``probability``.

A single observed label that is not boolean or 0/1 (a homogeneous batch of string
labels) is ambiguous without the config and is refused with a message naming
the fix.

Multiclass
----------
A model with more than two classes (:func:`is_multiclass` of ``model.classes_``) has no
positive class: :func:`multiclass_metrics` scores every class from the full
``predict_proba`` matrix (columns in ``classes`` order): accuracy, macro and weighted
precision, recall and F1, one-vs-rest ROC-AUC (macro) and log loss
(:data:`MULTICLASS_METRICS`). Binary models keep :data:`BINARY_METRICS`, with the same
names and values as before. Which set applies is decided by the model's classes, never by
the labels of one slice or one day (a day may hold two of three classes). Both name sets are
defined in :mod:`mlops.metric_names`; :mod:`mlops.config` checks gates and alert rules against them.

Fairness (per-group metrics and disparities) is in :mod:`mlops.fairness_metrics`.

Every function takes plain arrays; none reads S3.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops._util import finite_float as _f
from mlops.config import DatasetConfig, config_label
from mlops.errors import ConfigError
from mlops.metric_names import BINARY_METRICS as BINARY_METRICS
from mlops.metric_names import MULTICLASS_METRICS

if TYPE_CHECKING:
    import pandas as pd

#: Probabilities are clipped to [EPS, 1 - EPS] before log loss.
EPS = 1e-15
#: Score at or above which a row is predicted positive when no prediction is given.
DEFAULT_THRESHOLD = 0.5
MISSING_SLICE = "<missing>"


# ---------------------------------------------------------------- the positive class
def labels_of(*arrays: Any) -> list[Any]:
    """The distinct non-null labels of one or more arrays, as Python scalars, in order of appearance.

    ``None`` arrays are skipped. The result is what :func:`resolve_positive_class` takes.
    """
    import pandas as pd

    out: list[Any] = []
    seen: set[tuple[bool, Any]] = set()
    for values in arrays:
        if values is None:
            continue
        flat = np.asarray(values if hasattr(values, "__array__") else list(values), dtype=object).ravel()
        for v in pd.unique(pd.Series(flat, dtype=object)):
            if v is None or (not isinstance(v, str) and bool(pd.isna(v))):
                continue
            v = v.item() if isinstance(v, np.generic) else v
            key = (isinstance(v, str), v)
            if key not in seen:
                seen.add(key)
                out.append(v)
    return out


def _where(cfg: DatasetConfig | None) -> str:
    return f"{config_label(cfg.name)}" if cfg is not None else "the dataset config"


def resolve_positive_class(cfg_or_value: DatasetConfig | Any, labels: Iterable[Any] = ()) -> Any:
    """The positive class of a binary target (see the module docstring for the rule).

    Parameters
    ----------
    cfg_or_value : DatasetConfig or scalar or None
        A dataset config (its ``positive_class`` is used), or the configured value
        itself; ``None`` means not configured.
    labels : array-like
        The labels seen: true labels and predicted classes (or ``model.classes_``).
        Missing values are ignored.

    Returns
    -------
    The positive label, as configured or as found among ``labels``.

    Raises
    ------
    ConfigError
        The configured class is not among two or more observed labels; the labels
        are ambiguous (one label that is not boolean or 0/1, or labels of mixed
        types) and nothing is configured; or there are more than two labels.
    """
    cfg = cfg_or_value if isinstance(cfg_or_value, DatasetConfig) else None
    configured = cfg.positive_class if cfg is not None else cfg_or_value
    seen = labels_of(labels)
    if configured is not None:
        if len(seen) >= 2 and not any(_same(configured, v) for v in seen):
            raise ConfigError(
                f"positive_class {configured!r} is not one of the target labels {_show(seen)}; "
                f"fix positive_class in {_where(cfg)}."
            )
        return configured
    if not seen:
        return 1
    if all(isinstance(v, bool | np.bool_) for v in seen):
        return True
    numeric = all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in seen)
    if numeric and all(v in (0, 1) for v in seen):
        return 1
    if len(seen) > 2:
        raise ConfigError(
            f"The target has {len(seen)} labels {_show(seen)}: it is multiclass, and a positive class exists "
            "only for binary targets; score it with multiclass_metrics (check is_multiclass(model.classes_) first)."
        )
    if len(seen) == 1:
        raise ConfigError(
            f"Cannot tell the positive class from the single label {seen[0]!r}; "
            f"set positive_class in {_where(cfg)}."
        )
    try:
        return sorted(seen)[-1]
    except TypeError:
        raise ConfigError(
            f"The target labels {_show(seen)} mix types and cannot be sorted; "
            f"set positive_class in {_where(cfg)}."
        ) from None


def _same(a: Any, b: Any) -> bool:
    """Label equality that never matches a string with a number, nor a missing value."""
    if isinstance(a, str) != isinstance(b, str):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # pd.NA
        return False


def _show(values: list[Any]) -> str:
    return repr(sorted(values, key=repr)[:10])


def positive_index(cfg_or_value: DatasetConfig | Any, classes: Any) -> int:
    """The ``predict_proba`` column of the positive class, given the model's ``classes_``.

    Raises
    ------
    ConfigError
        If the positive class is not one of ``classes``.
    """
    listed = [c.item() if isinstance(c, np.generic) else c for c in np.asarray(classes, dtype=object).ravel()]
    positive = resolve_positive_class(cfg_or_value, listed)
    for i, c in enumerate(listed):
        if _same(positive, c):
            return i
    raise ConfigError(f"positive_class {positive!r} is not one of the model's classes {_show(listed)}.")


def is_positive(values: Any, positive_class: Any) -> np.ndarray:
    """A boolean array: which of ``values`` equal the positive class (missing values never do)."""
    arr = np.asarray(values).ravel()
    if arr.dtype.kind == "O":
        return np.fromiter((_same(positive_class, v) for v in arr), dtype=bool, count=arr.size)
    if (arr.dtype.kind in "US") != isinstance(positive_class, str):
        return np.zeros(arr.size, dtype=bool)
    return np.asarray(arr == positive_class, dtype=bool)


# ---------------------------------------------------------------- classification
def _predicted_positive(y_pred: Any, proba: np.ndarray, positive_class: Any, threshold: float) -> np.ndarray:
    if y_pred is None:
        return proba >= threshold
    return is_positive(y_pred, positive_class)


def classification_metrics(
    y_true: Any,
    y_pred: Any,
    proba_positive: Any,
    *,
    positive_class: Any,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, float | None]:
    """accuracy, precision, recall, f1, roc_auc and log_loss of a binary classifier.

    Parameters
    ----------
    y_true : array-like
        True labels (any type: ints, strings, booleans).
    y_pred : array-like or None
        Predicted labels; ``None`` predicts positive where ``proba_positive >= threshold``.
    proba_positive : array-like
        The probability of ``positive_class`` per row.
    positive_class : scalar
        From :func:`resolve_positive_class`.

    Returns
    -------
    dict
        ``roc_auc`` is ``None`` when ``y_true`` holds a single class; every value is
        a finite float or ``None``.
    """
    from sklearn import metrics as skm

    truth = is_positive(y_true, positive_class)
    proba = np.clip(np.asarray(proba_positive, dtype="float64").ravel(), EPS, 1 - EPS)
    pred = _predicted_positive(y_pred, proba, positive_class, threshold)
    two_classes = np.unique(truth).size == 2
    return {
        "accuracy": _f(skm.accuracy_score(truth, pred)),
        "precision": _f(skm.precision_score(truth, pred, zero_division=0)),
        "recall": _f(skm.recall_score(truth, pred, zero_division=0)),
        "f1": _f(skm.f1_score(truth, pred, zero_division=0)),
        "roc_auc": _f(skm.roc_auc_score(truth, proba)) if two_classes else None,
        "log_loss": _f(skm.log_loss(truth, proba, labels=[False, True])) if truth.size else None,
    }


def positive_rate(y: Any, *, positive_class: Any) -> float | None:
    """Share of rows equal to the positive class (``None`` for no rows)."""
    hits = is_positive(y, positive_class)
    return _f(hits.mean()) if hits.size else None


def confusion(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """``{"labels": [...], "matrix": [[...]]}`` (rows = true, columns = predicted; labels sorted)."""
    from sklearn.metrics import confusion_matrix

    labels = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return {"labels": [x.item() if hasattr(x, "item") else x for x in labels], "matrix": matrix.tolist()}


def classification_curves(y_true: Any, proba_positive: Any, *, positive_class: Any) -> dict[str, Any] | None:
    """ROC and precision-recall curves with their areas, or ``None`` if ``y_true`` has one class.

    Keys: ``fpr``, ``tpr``, ``roc_auc``, ``precision``, ``recall``,
    ``average_precision`` and ``base_rate`` (the positive rate).
    """
    from sklearn import metrics as skm

    truth = is_positive(y_true, positive_class)
    if truth.all() or not truth.any():
        return None
    proba = np.asarray(proba_positive, dtype="float64").ravel()
    fpr, tpr, _ = skm.roc_curve(truth, proba)
    precision, recall, _ = skm.precision_recall_curve(truth, proba)
    return {
        "fpr": fpr,
        "tpr": tpr,
        "roc_auc": float(skm.auc(fpr, tpr)),
        "precision": precision,
        "recall": recall,
        "average_precision": float(skm.average_precision_score(truth, proba)),
        "base_rate": float(truth.mean()),
    }


def estimate_classification_performance(
    proba: Any,
    y_pred: Any = None,
    *,
    positive_class: Any = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """Confidence-based performance estimation (the idea behind NannyML's CBPE), without labels.

    With calibrated probabilities p, row i is a positive with probability p_i, so the
    expected confusion matrix is ``TP = Σ p·ŷ``, ``FP = Σ (1−p)·ŷ``, ``FN = Σ p·(1−ŷ)``,
    ``TN = Σ (1−p)·(1−ŷ)``; accuracy, precision, recall and F1 follow from it, and the
    expected ROC curve (cumulative expected TP/FP rates over the score ranking) gives AUC.
    Valid under covariate shift while the model stays calibrated; not under concept
    drift or a changed P(y|x).

    ``y_pred`` are predicted labels (ŷ = 1 where they equal ``positive_class``, resolved
    from ``y_pred`` when not given); without them ŷ is ``proba >= threshold``.
    Rows with a missing probability are left out.
    """
    p_all = np.clip(np.asarray(proba, dtype="float64").ravel(), 0.0, 1.0)
    keep = np.isfinite(p_all)
    p = p_all[keep]
    n = p.size
    if n == 0:
        return {"n": 0, "method": "cbpe"}
    if y_pred is None:
        yhat = (p >= threshold).astype(float)
    else:
        pos = resolve_positive_class(positive_class, y_pred)
        yhat = is_positive(y_pred, pos)[keep].astype(float)
    tp, fp = float(np.sum(p * yhat)), float(np.sum((1 - p) * yhat))
    fn, tn = float(np.sum(p * (1 - yhat))), float(np.sum((1 - p) * (1 - yhat)))
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    expected_log_loss = float(
        -np.mean(p * np.log(np.clip(p, EPS, 1)) + (1 - p) * np.log(np.clip(1 - p, EPS, 1)))
    )
    return {
        "n": int(n),
        "method": "cbpe",
        "positive_rate": _f(p.mean()),
        "accuracy": _f((tp + tn) / n),
        "precision": _f(precision),
        "recall": _f(recall),
        "f1": _f(f1),
        "roc_auc": _f(_expected_auc(p)),
        "log_loss": _f(expected_log_loss),
        "confusion_matrix": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


def _expected_auc(p: np.ndarray) -> float | None:
    """Area under the expected ROC curve of scores ``p`` (None if no expected positives or negatives)."""
    order = np.argsort(-p, kind="stable")
    ps = p[order]
    # Group tied scores so the curve moves diagonally through them, like roc_curve.
    last_of_group = np.r_[np.diff(ps) != 0, True]
    cum_tp = np.cumsum(ps)[last_of_group]
    cum_fp = np.cumsum(1 - ps)[last_of_group]
    pos, neg = cum_tp[-1], cum_fp[-1]
    if pos <= 0 or neg <= 0:
        return None
    tpr = np.r_[0.0, cum_tp / pos]
    fpr = np.r_[0.0, cum_fp / neg]
    return float(np.trapezoid(tpr, fpr))


# ---------------------------------------------------------------- multiclass
def is_multiclass(classes: Any) -> bool:
    """True when there are more than two distinct labels (pass ``model.classes_``, not one day's labels)."""
    return len(labels_of(classes)) > 2


def _class_list(classes: Any) -> list[Any]:
    return [c.item() if isinstance(c, np.generic) else c for c in np.asarray(classes, dtype=object).ravel()]


def _ovr_auc(truth: np.ndarray, proba: np.ndarray, classes: list[Any]) -> float | None:
    """Macro one-vs-rest ROC-AUC over the classes that have both positives and negatives in ``truth``."""
    from sklearn import metrics as skm

    scores = []
    for i, label in enumerate(classes):
        hits = is_positive(truth, label)
        if 0 < hits.sum() < hits.size:
            scores.append(skm.roc_auc_score(hits, proba[:, i]))
    return _f(np.mean(scores)) if scores else None


def multiclass_metrics(y_true: Any, y_pred: Any, proba: Any, *, classes: Any) -> dict[str, float | None]:
    """:data:`MULTICLASS_METRICS` of a classifier with more than two classes.

    Parameters
    ----------
    y_true : array-like
        True labels.
    y_pred : array-like or None
        Predicted labels; ``None`` predicts the class with the largest probability.
    proba : array-like of shape (n, k)
        ``predict_proba`` with its columns in ``classes`` order (the model's ``classes_``).
    classes : array-like of k labels

    Returns
    -------
    dict
        ``roc_auc_ovr`` is the macro average of the one-vs-rest AUCs of the classes present
        with both outcomes (``None`` if none is); ``log_loss`` is ``None`` when a true label is
        not one of ``classes``. Precision, recall and F1 average over the classes that occur in
        ``y_true`` or ``y_pred`` (a slice or a day without a class is not scored 0 on it); a
        class that is present but never predicted correctly scores 0 (``zero_division=0``).
    """
    from sklearn import metrics as skm

    labels = _class_list(classes)
    p = np.asarray(proba, dtype="float64")
    if p.ndim != 2 or p.shape[1] != len(labels):
        raise ConfigError(
            f"The 'proba' parameter of multiclass_metrics must have one column per class ({len(labels)}: "
            f"{_show(labels)}). Got shape {p.shape} instead."
        )
    truth = np.asarray(y_true).ravel()
    pred = np.asarray(labels)[np.argmax(p, axis=1)] if y_pred is None else np.asarray(y_pred).ravel()
    out: dict[str, float | None] = {"accuracy": _f(np.mean(truth == pred)) if truth.size else None}
    seen = labels_of(truth, pred)
    present = [c for c in labels if any(_same(c, v) for v in seen)] or labels
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            truth, pred, labels=present, average=average, zero_division=0
        )
        out[f"precision_{average}"] = _f(precision)
        out[f"recall_{average}"] = _f(recall)
        out[f"f1_{average}"] = _f(f1)
    out["roc_auc_ovr"] = _ovr_auc(truth, p, labels) if truth.size else None
    known = all(any(_same(t, c) for c in labels) for t in labels_of(truth))
    clipped = np.clip(p, EPS, 1 - EPS)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    out["log_loss"] = _f(skm.log_loss(truth, clipped, labels=labels)) if truth.size and known else None
    return {name: out[name] for name in MULTICLASS_METRICS}


def per_class(y_true: Any, y_pred: Any, classes: Any) -> dict[str, dict[str, float | int | None]]:
    """``{str(class): {"support", "precision", "recall", "f1"}}`` per class (for the model card)."""
    from sklearn import metrics as skm

    labels = _class_list(classes)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        np.asarray(y_true).ravel(),
        np.asarray(y_pred).ravel(),
        labels=labels,
        average=None,
        zero_division=0,
    )
    return {
        str(label): {"support": int(n), "precision": _f(pr), "recall": _f(rc), "f1": _f(f)}
        for label, pr, rc, f, n in zip(labels, precision, recall, f1, support, strict=True)
    }


# ---------------------------------------------------------------- regression
def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float | None]:
    """mse, rmse, mae, r2 and explained_variance (r2 and explained_variance need two rows)."""
    from sklearn import metrics as skm

    y = as_float_array(y_true)
    yhat = as_float_array(y_pred)
    mse = skm.mean_squared_error(y, yhat)
    enough = y.size >= 2
    return {
        "mse": _f(mse),
        "rmse": _f(math.sqrt(mse)),
        "mae": _f(skm.mean_absolute_error(y, yhat)),
        "r2": _f(skm.r2_score(y, yhat)) if enough else None,
        "explained_variance": _f(skm.explained_variance_score(y, yhat)) if enough else None,
    }


def as_float_array(values: Any) -> np.ndarray:
    import pandas as pd

    if isinstance(values, pd.Series):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    return np.asarray(values, dtype="float64").ravel()


# ---------------------------------------------------------------- by task
def compute_metrics(
    cfg: DatasetConfig,
    y_true: Any,
    y_pred: Any,
    proba: Any = None,
    *,
    positive_class: Any = None,
    classes: Any = None,
) -> dict[str, float | None]:
    """The task's metrics: regression, binary (:data:`BINARY_METRICS`) or multiclass (:data:`MULTICLASS_METRICS`).

    ``proba`` is the positive-class probability per row (binary), or the ``predict_proba``
    matrix with its columns in ``classes`` order (the model's ``classes_``); with more than
    two ``classes`` the multiclass metrics apply. ``positive_class`` (binary) defaults to
    :func:`resolve_positive_class` of ``cfg`` over ``y_true`` and ``y_pred``; pass it to
    score subsets (slices, days) by one rule.
    """
    if not cfg.is_classifier:
        return regression_metrics(y_true, y_pred)
    if proba is None:
        raise ConfigError("Classification metrics need probabilities; the model has no predict_proba.")
    if classes is not None and is_multiclass(classes):
        return multiclass_metrics(y_true, y_pred, proba, classes=classes)
    if positive_class is None:
        positive_class = resolve_positive_class(cfg, labels_of(y_true, y_pred, classes))
    if np.ndim(proba) == 2:
        if classes is None:
            raise ConfigError(
                "A predict_proba matrix needs its classes (the model's classes_) to pick the positive column."
            )
        proba = np.asarray(proba)[:, positive_index(positive_class, classes)]
    return classification_metrics(y_true, y_pred, proba, positive_class=positive_class)


def slice_metrics(
    cfg: DatasetConfig,
    frame: pd.DataFrame,
    y_true: Any,
    y_pred: Any,
    proba: Any = None,
    *,
    positive_class: Any = None,
    classes: Any = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Metrics per value of each ``training.slice_columns`` column: ``{col: {value: {"n", "metrics"}}}``.

    Missing values form the slice ``"<missing>"``. The positive class is resolved
    once over all rows (not per slice), so that a one-class slice keeps it; a multiclass
    model (``classes``) is scored with the multiclass metrics on every slice.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    multiclass = classes is not None and is_multiclass(classes)
    if cfg.is_classifier and positive_class is None and not multiclass:
        positive_class = resolve_positive_class(cfg, labels_of(y_true, y_pred, classes))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for col in cfg.training.slice_columns:
        values = frame[col].astype("object").where(frame[col].notna(), MISSING_SLICE).astype(str).to_numpy()
        out[col] = {}
        for value in sorted(set(values)):
            mask = values == value
            part = None if proba is None else np.asarray(proba)[mask]
            out[col][value] = {
                "n": int(mask.sum()),
                "metrics": compute_metrics(
                    cfg, y_true[mask], y_pred[mask], part, positive_class=positive_class, classes=classes
                ),
            }
    return out
